import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Delivery } from '../../domain/delivery.js';
import type { JobQueue } from '../../ports/job-queue.js';
import { InvalidCursorError, type LeadStore } from '../../ports/lead-store.js';
import { deliveryView, readLeadView } from '../admin-views.js';
import { bearerToken, safeEqual } from '../auth.js';
import { errorSummary } from '../../observability/error-summary.js';
import { HttpError, unavailable } from '../http-error.js';
import { bulkReplayBodySchema, idParamsSchema, listDeliveriesQuerySchema } from '../schemas/admin.js';
import { registerDestinationRoutes, type DestinationRouteDeps } from './destinations.js';

export interface AdminRouteDeps extends Pick<DestinationRouteDeps, 'config' | 'breakerState'> {
  adminToken: string;
  store: LeadStore;
  queue: JobQueue;
  now: () => number;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

const notFound = (): HttpError => new HttpError(404, 'not_found', 'Not found');
const invalid = (path: string, message: string): HttpError =>
  new HttpError(400, 'validation_failed', 'Request is invalid', [{ path, message }]);

/**
 * Ops endpoints: inspect a lead and its deliveries, list and replay deliveries. Registered in
 * their own scope so the bearer check applies to these routes only.
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  const { store, queue, now } = deps;

  app.addHook('onRequest', async (request) => {
    // Compared even when absent, so timing does not tell "no header" from "wrong token".
    if (!safeEqual(bearerToken(request) ?? '', deps.adminToken)) {
      throw new HttpError(401, 'unauthorized', 'Missing or invalid admin token');
    }
  });

  /** The store is the truth; when it cannot answer, the client should retry, not see a 500. */
  const fromStore = async <T>(request: FastifyRequest, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof InvalidCursorError) throw invalid('/querystring/cursor', 'is not a cursor from a previous page');
      request.log.warn({ err: errorSummary(err) }, 'store unavailable');
      throw unavailable();
    }
  };

  /** Replayed deliveries are durable already; a failed enqueue is left to the sweeper. */
  const announce = async (request: FastifyRequest, deliveries: Delivery[]): Promise<void> => {
    if (deliveries.length === 0) return;
    try {
      await queue.enqueue(deliveries.map((d) => ({ deliveryId: d.id, runAt: now() })));
    } catch (err) {
      request.log.warn({ err: errorSummary(err), count: deliveries.length }, 'enqueue failed, sweeper will pick up');
    }
  };

  registerDestinationRoutes(app, { config: deps.config, store, breakerState: deps.breakerState });

  app.get<{ Params: { id: string } }>('/v1/leads/:id', { schema: { params: idParamsSchema } }, async (request) => {
    const view = await fromStore(request, () => readLeadView(store, request.params.id));
    if (view === null) throw notFound();
    return view;
  });

  app.get<{ Querystring: { status?: Delivery['status']; destination?: string; limit?: string; cursor?: string } }>(
    '/v1/deliveries',
    { schema: { querystring: listDeliveriesQuerySchema } },
    async (request) => {
      const { status, destination, cursor } = request.query;
      const limit = request.query.limit === undefined ? DEFAULT_LIMIT : Number(request.query.limit);
      if (limit < 1 || limit > MAX_LIMIT) throw invalid('/query/limit', `must be between 1 and ${MAX_LIMIT}`);
      const page = await fromStore(request, () => store.listDeliveries({ status, destination, limit, cursor }));
      return { items: page.items.map(deliveryView), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/deliveries/:id/replay',
    { schema: { params: idParamsSchema } },
    async (request, reply) => {
      const { id } = request.params;
      const existing = await fromStore(request, () => store.getDelivery(id));
      if (existing === null) throw notFound();
      const replayed = await fromStore(request, () => store.replay({ deliveryId: id }));
      await announce(request, replayed);
      return reply.code(202).send({ id, status: replayed.length > 0 ? 'pending' : existing.status });
    },
  );

  app.post<{ Body: { destination: string; status: 'dead'; since?: string; until?: string } }>(
    '/v1/deliveries/replay',
    { schema: { body: bulkReplayBodySchema } },
    async (request, reply) => {
      const { destination, since, until } = request.body;
      const sinceMs = since === undefined ? undefined : Date.parse(since);
      const untilMs = until === undefined ? undefined : Date.parse(until);
      if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
        throw invalid('/until', 'must not be before since');
      }
      const replayed = await fromStore(request, () =>
        store.replay({ destination, status: 'dead', since: sinceMs, until: untilMs }),
      );
      await announce(request, replayed);
      return reply.code(202).send({ replayed: replayed.length });
    },
  );
}
