import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LeadgateConfig } from '../../domain/config.js';
import { errorSummary } from '../../observability/error-summary.js';
import type { LeadStore } from '../../ports/lead-store.js';
import { HttpError, unavailable } from '../http-error.js';
import { ID_PATTERN } from '../schemas/common.js';
import { ADMIN_DOC, ADMIN_ERRORS, errors, nullable, open } from '../schemas/responses.js';

const destinationViewSchema = open({
  id: { type: 'string' },
  paused: { type: 'boolean' },
  circuit_breaker: {
    type: ['string', 'null'],
    enum: ['closed', 'half_open', 'open', null],
    description: "This process's worker's breaker; null in a process without a worker",
  },
  pending: { type: 'integer' },
  dead: { type: 'integer' },
  max_in_flight: nullable('integer'),
  rate_limit: { anyOf: [open({ per_second: { type: 'number' } }), { type: 'null' }] },
});

export type BreakerStateName = 'closed' | 'half_open' | 'open';

export interface DestinationRouteDeps {
  config: LeadgateConfig;
  store: LeadStore;
  /** The circuit breaker of a destination in this process; absent in an api-only process. */
  breakerState?: (destinationId: string) => BreakerStateName;
}

const paramsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID_PATTERN, maxLength: 64 } },
} as const;

/**
 * Operator control of destinations (inside the admin scope, so behind its bearer check):
 * `GET /v1/destinations`, `POST /v1/destinations/:id/pause` and `/resume`. Pausing is
 * cluster-wide (the store), workers see it within a second; a paused destination's deliveries
 * are held without spending attempts until it is resumed.
 */
export function registerDestinationRoutes(app: FastifyInstance, deps: DestinationRouteDeps): void {
  const { config, store } = deps;
  const known = new Set(config.destinations.map((d) => d.id));

  const fromStore = async <T>(request: FastifyRequest, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      request.log.warn({ err: errorSummary(err) }, 'store unavailable');
      throw unavailable();
    }
  };

  const listSchema = {
    ...ADMIN_DOC,
    summary: 'Destinations: paused, breaker, pending and dead counts, limits',
    response: {
      200: open({ items: { type: 'array', items: destinationViewSchema } }, { description: 'Every destination of the config' }),
      ...ADMIN_ERRORS,
    },
  };
  app.get('/v1/destinations', { schema: listSchema }, async (request) => {
    const [paused, stats] = await fromStore(request, () => Promise.all([store.pausedDestinations(), store.stats()]));
    const pausedSet = new Set(paused);
    const counts = new Map(stats.map((s) => [s.destination, s]));
    return {
      items: config.destinations.map((d) => ({
        id: d.id,
        paused: pausedSet.has(d.id),
        // Per process: what this process's worker knows (null without a worker here).
        circuit_breaker: deps.breakerState?.(d.id) ?? null,
        pending: counts.get(d.id)?.pending ?? 0,
        dead: counts.get(d.id)?.dead ?? 0,
        max_in_flight: d.maxInFlight,
        rate_limit: d.rateLimitPerSecond === null ? null : { per_second: d.rateLimitPerSecond },
      })),
    };
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/destinations/:id/${action}`,
      {
        schema: {
          ...ADMIN_DOC,
          summary:
            action === 'pause'
              ? "Hold a destination's deliveries, cluster-wide (no attempt spent)"
              : "Let a paused destination's deliveries flow again",
          params: paramsSchema,
          response: {
            200: open({ destination: { type: 'string' }, paused: { type: 'boolean' } }, { description: action === 'pause' ? 'Paused' : 'Resumed' }),
            ...errors([400, 404]),
            ...ADMIN_ERRORS,
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if (!known.has(id)) throw new HttpError(404, 'not_found', 'No such destination in the config');
        const paused = action === 'pause';
        await fromStore(request, () => store.setDestinationPaused(id, paused, 'admin-api'));
        // Ids of the config only: never lead data.
        request.log.warn({ destination: id, paused }, paused ? 'destination paused' : 'destination resumed');
        return reply.code(200).send({ destination: id, paused });
      },
    );
  }
}
