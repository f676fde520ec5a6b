import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Delivery } from '../../domain/delivery.js';
import type { JobQueue } from '../../ports/job-queue.js';
import { InvalidCursorError, type LeadStore } from '../../ports/lead-store.js';
import { replayDead, replayDelivery, type ReplayDeps } from '../admin-actions.js';
import { deliveryView, readLeadView } from '../../views/lead-views.js';
import { bearerToken, safeEqual } from '../auth.js';
import { errorSummary } from '../../observability/error-summary.js';
import { HttpError, unavailable } from '../http-error.js';
import { bulkReplayBodySchema, idParamsSchema, listDeliveriesQuerySchema } from '../schemas/admin.js';
import { ADMIN_DOC, ADMIN_ERRORS, deliveryViewSchema, errors, leadViewSchema, nullable, open } from '../schemas/responses.js';
import { registerDestinationRoutes, type DestinationRouteDeps } from './destinations.js';
import { writeAudit, type AuditRecord } from '../audit.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RequestBudgets } from '../../ports/request-budgets.js';
import type { PrivacyDeps } from '../../privacy/requests.js';
import { registerPrivacyRoutes } from './privacy.js';

/** The audit record of an admin request: the action is the route pattern, the record its id parameter. */
function auditRecord(request: FastifyRequest): AuditRecord {
  const params = (request.params ?? {}) as { id?: unknown };
  const route = request.routeOptions.url ?? 'unmatched';
  const record = typeof params.id === 'string' ? params.id : undefined;
  return {
    actor: 'admin-token',
    action: `${request.method} ${route}`,
    ...(route.startsWith('/v1/leads/') ? { leadId: record } : {}),
    ...(route.startsWith('/v1/deliveries/') ? { deliveryId: record } : {}),
    ...(route.startsWith('/v1/destinations/') ? { destination: record } : {}),
    ...(route.startsWith('/v1/privacy/erasures/') ? { erasureId: record } : {}),
  };
}

export interface AdminRouteDeps extends Pick<DestinationRouteDeps, 'config' | 'breakerState'> {
  adminToken: string;
  store: LeadStore;
  queue: JobQueue;
  now: () => number;
  /** Failed sign-ins are counted per client IP here. */
  budgets: RequestBudgets;
  metrics: Metrics;
  /** The privacy use cases; their routes are left out without them. */
  privacy?: PrivacyDeps;
  onErasureRequested?: () => void;
}

/** Failed admin authentications per client IP and minute before 429. */
export const ADMIN_AUTH_FAILURES_PER_MINUTE = 5;

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

  const failuresKey = (request: FastifyRequest) => `admin-auth:${request.ip}`;
  app.addHook('onRequest', async (request) => {
    // An IP that failed too often is turned away before its next guess is even compared.
    const waitMs = await deps.budgets.check(failuresKey(request), ADMIN_AUTH_FAILURES_PER_MINUTE);
    if (waitMs !== null) {
      deps.metrics.budgetRejections.inc({ budget: 'admin_auth' });
      throw new HttpError(429, 'rate_limited', 'Too many failed attempts, retry later', undefined, {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }
    // Compared even when absent, so timing does not tell "no header" from "wrong token".
    if (!safeEqual(bearerToken(request) ?? '', deps.adminToken)) {
      await deps.budgets.spend(failuresKey(request), ADMIN_AUTH_FAILURES_PER_MINUTE);
      throw new HttpError(401, 'unauthorized', 'Missing or invalid admin token');
    }
  });
  // One audit line per admin request: who, what, on which record, with what outcome; ids only.
  app.addHook('onResponse', async (request, reply) => {
    writeAudit(request, reply, deps.metrics, auditRecord(request));
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

  const actions = (request: FastifyRequest): ReplayDeps => ({ store, queue, now, log: request.log });

  registerDestinationRoutes(app, { config: deps.config, store, breakerState: deps.breakerState });
  if (deps.privacy) registerPrivacyRoutes(app, { privacy: deps.privacy, onErasureRequested: deps.onErasureRequested, fromStore });

  app.get<{ Params: { id: string } }>(
    '/v1/leads/:id',
    {
      schema: {
        ...ADMIN_DOC,
        summary: 'A lead, its deliveries and their attempts',
        params: idParamsSchema,
        response: { 200: { description: 'The lead', ...leadViewSchema }, ...errors([400, 404]), ...ADMIN_ERRORS },
      },
    },
    async (request) => {
    const view = await fromStore(request, () => readLeadView(store, request.params.id));
    if (view === null) throw notFound();
    return view;
    },
  );

  app.get<{ Querystring: { status?: Delivery['status']; destination?: string; limit?: string; cursor?: string } }>(
    '/v1/deliveries',
    {
      schema: {
        ...ADMIN_DOC,
        summary: 'List deliveries',
        description: 'Pages with `limit` (1-500, default 50) and the `next_cursor` of the previous page.',
        querystring: listDeliveriesQuerySchema,
        response: {
          200: open(
            { items: { type: 'array', items: deliveryViewSchema }, next_cursor: nullable('string') },
            { description: 'One page of deliveries' },
          ),
          ...errors([400]),
          ...ADMIN_ERRORS,
        },
      },
    },
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
    {
      schema: {
        ...ADMIN_DOC,
        summary: 'Replay one delivery (same id, so the same webhook-id)',
        params: idParamsSchema,
        response: {
          202: open(
            { id: { type: 'string' }, status: { type: 'string', enum: ['pending', 'delivered', 'dead', 'cancelled'] } },
            { description: 'Pending again (or its status when it could not be replayed)' },
          ),
          ...errors([400, 404]),
          ...ADMIN_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const status = await fromStore(request, () => replayDelivery(actions(request), id));
      if (status === null) throw notFound();
      return reply.code(202).send({ id, status });
    },
  );

  app.post<{ Body: { destination: string; status: 'dead'; since?: string; until?: string } }>(
    '/v1/deliveries/replay',
    {
      schema: {
        ...ADMIN_DOC,
        summary: "Replay a destination's dead deliveries",
        body: bulkReplayBodySchema,
        response: {
          202: open({ replayed: { type: 'integer' } }, { description: 'How many deliveries are pending again' }),
          ...errors([400]),
          ...ADMIN_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { destination, since, until } = request.body;
      const sinceMs = since === undefined ? undefined : Date.parse(since);
      const untilMs = until === undefined ? undefined : Date.parse(until);
      if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
        throw invalid('/until', 'must not be before since');
      }
      const replayed = await fromStore(request, () =>
        replayDead(actions(request), { destination, since: sinceMs, until: untilMs }),
      );
      return reply.code(202).send({ replayed });
    },
  );
}
