import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LeadgateConfig } from '../../domain/config.js';
import { errorSummary } from '../../observability/error-summary.js';
import type { LeadStore } from '../../ports/lead-store.js';
import { HttpError, unavailable } from '../http-error.js';
import { ID_PATTERN } from '../schemas/common.js';

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

  app.get('/v1/destinations', async (request) => {
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
      { schema: { params: paramsSchema } },
      async (request, reply) => {
        const { id } = request.params;
        if (!known.has(id)) throw new HttpError(404, 'not_found', 'No such destination in the config');
        const paused = action === 'pause';
        await fromStore(request, () => store.setDestinationPaused(id, paused));
        // Ids of the config only: never lead data.
        request.log.warn({ destination: id, paused }, paused ? 'destination paused' : 'destination resumed');
        return reply.code(200).send({ destination: id, paused });
      },
    );
  }
}
