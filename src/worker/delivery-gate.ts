import type { DestinationConfig } from '../domain/config.js';
import type { Metrics } from '../observability/metrics.js';
import type { SendResult } from '../ports/destination-client.js';
import type { LeadStore } from '../ports/lead-store.js';
import { isBreakerFailure, type CircuitBreakers } from './circuit-breakers.js';
import { loadSignal, type DestinationLimits } from '../ports/destination-limits.js';

/**
 * What protects a CRM, in front of every delivery attempt: operator pause, circuit breaker,
 * max_in_flight with adaptive concurrency, Retry-After pauses and rate_limit. A delivery it holds is handed back to the queue with `retryAt`
 * and spends no attempt: nothing is recorded, so holding never moves it towards dead.
 */
export interface DeliveryGate {
  /** Before any work: paused or breaker open gives when to look again; null lets it through. */
  holdUntil(destination: DestinationConfig): Promise<number | null>;
  /** Sends through the limits and the breaker, or says when to try again (nothing was sent). */
  send(destination: DestinationConfig, send: () => Promise<SendResult>): Promise<GateSend>;
}

/**
 * `probe`: the request was the circuit breaker's half-open probe. Its failure tells about the
 * CRM, not about this lead: `probeRetryAt` is when the breaker next lets a request through.
 */
export type GateSend = { kind: 'sent'; result: SendResult; probe: boolean; probeRetryAt: number | null } | { kind: 'held'; retryAt: number };

export type HoldReason = 'paused' | 'circuit_open' | 'max_in_flight' | 'rate_limit' | 'retry_after';

/** No protection at all: for handler tests that are about something else. */
export const OPEN_GATE: DeliveryGate = {
  holdUntil: async () => null,
  send: async (_destination, send) => ({ kind: 'sent', result: await send(), probe: false, probeRetryAt: null }),
};

export interface DeliveryGateDeps {
  store: Pick<LeadStore, 'pausedDestinations'>;
  breakers: CircuitBreakers;
  limits: DestinationLimits;
  metrics: Metrics;
  now?: () => number;
  random?: () => number;
  /** How long the paused set is reused before the store is asked again (≤ 1 s). Default 1000. */
  pausedCacheMs?: number;
  /** How soon a held paused delivery comes back (± 20 %). Default 2000: resume takes effect within ~3 s. */
  pausedRecheckMs?: number;
}

/**
 * The gate a worker uses. The paused set comes from the store (cluster-wide), read at most
 * once per pausedCacheMs per process whatever the number of deliveries; the breakers are per
 * process; the limits per process or shared through Redis, as the container chose.
 */
export function createDeliveryGate(deps: DeliveryGateDeps): DeliveryGate {
  const { store, breakers, limits, metrics } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const cacheMs = Math.min(1_000, deps.pausedCacheMs ?? 1_000);
  const recheckMs = deps.pausedRecheckMs ?? 2_000;
  let paused: { set: Set<string>; at: number } | null = null;
  let reading: Promise<Set<string>> | null = null;

  /** Concurrent callers share one store read; a failed read rejects (the queue retries the job). */
  const pausedSet = async (): Promise<Set<string>> => {
    if (paused && now() - paused.at < cacheMs) return paused.set;
    reading ??= store
      .pausedDestinations()
      .then((ids) => {
        paused = { set: new Set(ids), at: now() };
        return paused.set;
      })
      .finally(() => (reading = null));
    return reading;
  };

  const held = (destination: DestinationConfig, reason: HoldReason, retryAt: number) => {
    metrics.deliveriesHeld.inc({ destination: destination.id, reason });
    return retryAt;
  };

  return {
    async holdUntil(destination) {
      if ((await pausedSet()).has(destination.id)) {
        return held(destination, 'paused', Math.round(now() + recheckMs * (0.8 + random() * 0.4)));
      }
      const until = breakers.heldUntil(destination);
      return until === null ? null : held(destination, 'circuit_open', until);
    },

    async send(destination, send) {
      const permit = await limits.acquire(destination);
      if (permit.kind === 'held') return { kind: 'held', retryAt: held(destination, permit.reason, permit.retryAt) };
      let result: SendResult | undefined;
      try {
        const outcome = await breakers.execute(destination, send);
        if (outcome.kind === 'rejected') return { kind: 'held', retryAt: held(destination, 'circuit_open', outcome.retryAt) };
        result = outcome.result;
        const probeRetryAt = outcome.probe && isBreakerFailure(result) ? breakers.heldUntil(destination) : null;
        return { kind: 'sent', result, probe: outcome.probe, probeRetryAt };
      } finally {
        await permit.release(result && loadSignal(result));
      }
    },
  };
}
