import { getHeapStatistics } from 'node:v8';
import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';

/**
 * Load shedding (@fastify/under-pressure): while the event loop lags or memory runs out, every
 * request is answered at once with 503 `unavailable` + `Retry-After` instead of queueing until
 * the client or the load balancer times out. `/health/ready` answers 503 too, so the load
 * balancer takes the instance out until it recovers; `/health/live` keeps answering 200 (a
 * restart would not help an instance that is merely busy) and `/metrics` keeps answering, so
 * the overload can be seen.
 */
export interface OverloadOptions {
  /** Mean event-loop delay over one sample above which requests are shed; 0 turns the check off. */
  maxEventLoopDelayMs?: number;
  /** V8 heap in use above which requests are shed; 0 turns the check off. */
  maxHeapUsedBytes?: number;
  /** Resident set size above which requests are shed; 0 (the default) turns the check off. */
  maxRssBytes?: number;
  /** The `Retry-After` of a shed request, in seconds. */
  retryAfterSeconds?: number;
  /** How often the figures are sampled. */
  sampleIntervalMs?: number;
}

/**
 * - 1 s of mean loop delay: a healthy instance stays under ~10 ms; at 1 s every request already
 *   waits that long before being read, so queueing more only turns into client timeouts.
 * - 90 % of V8's heap limit: beyond it the GC runs back to back and the process is close to an
 *   out-of-memory crash, which would lose the requests in flight.
 * - RSS: off, since only the deployment knows the instance's memory (set it to ~80 % of it).
 */
export function resolveOverloadOptions(options: OverloadOptions = {}): Required<OverloadOptions> {
  return {
    maxEventLoopDelayMs: options.maxEventLoopDelayMs ?? 1000,
    maxHeapUsedBytes: options.maxHeapUsedBytes ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    maxRssBytes: options.maxRssBytes ?? 0,
    retryAfterSeconds: options.retryAfterSeconds ?? 10,
    sampleIntervalMs: options.sampleIntervalMs ?? 1000,
  };
}

export interface OverloadRoutes {
  /** Always served, whatever the pressure (liveness, metrics). */
  exempt: readonly string[];
  /** Readiness: answers 503 with a readiness body naming the check. */
  readiness: string;
}

/** under-pressure's pressure types, as readiness check names (snake_case like the rest of the API). */
const CHECK_NAMES: Record<string, string> = {
  eventLoopDelay: 'event_loop_delay',
  eventLoopUtilization: 'event_loop_utilization',
  heapUsedBytes: 'heap_used',
  rssBytes: 'rss',
  healthCheck: 'health_check',
};

const LOG_EVERY_MS = 10_000;

/**
 * Registers the pressure check as a global onRequest hook. Register it after CORS and the security headers,
 * so a shed response still carries their headers (a browser can then read the 503).
 */
export async function registerOverloadProtection(
  app: FastifyInstance,
  options: OverloadOptions | undefined,
  routes: OverloadRoutes,
): Promise<void> {
  const resolved = resolveOverloadOptions(options);
  const retryAfter = String(resolved.retryAfterSeconds);
  const exempt = new Set(routes.exempt);
  let lastLogged = -Infinity;

  // under-pressure sends whatever the handler returns (other than a promise or nullish) and
  // goes on with the request when it returns nothing; its types only admit the latter.
  const pressureHandler = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
    const route = request.routeOptions.url;
    if (route !== undefined && exempt.has(route)) return undefined;
    const check = CHECK_NAMES[type] ?? 'pressure';
    const now = Date.now();
    if (now - lastLogged >= LOG_EVERY_MS) {
      lastLogged = now;
      // Figures of the process only: nothing of the request.
      request.log.warn({ check, value }, 'overloaded: shedding requests');
    }
    if (route === routes.readiness) {
      void reply.code(503).header('retry-after', retryAfter);
      return { status: 'overloaded', checks: { [check]: 'failing' } };
    }
    // Sent as an error, so the app's error handler writes the contract body and counts it.
    return new HttpError(503, 'unavailable', 'Service overloaded, retry later', undefined, { 'retry-after': retryAfter });
  };

  await app.register(underPressure, {
    maxEventLoopDelay: resolved.maxEventLoopDelayMs,
    maxHeapUsedBytes: resolved.maxHeapUsedBytes,
    maxRssBytes: resolved.maxRssBytes,
    sampleInterval: resolved.sampleIntervalMs,
    retryAfter: resolved.retryAfterSeconds,
    pressureHandler: pressureHandler as unknown as FastifyUnderPressureOptions['pressureHandler'],
    // Our own /health/* routes stay the health endpoints; no /status route is added.
    exposeStatusRoute: false,
  });
}
