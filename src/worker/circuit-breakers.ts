import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  SamplingBreaker,
  circuitBreaker,
  handleWhenResult,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { DestinationConfig } from '../domain/config.js';
import { isRetryableStatus } from '../domain/delivery-decision.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SendResult } from '../ports/destination-client.js';

export type BreakerState = 'closed' | 'half_open' | 'open';

/** leadgate_circuit_breaker_state: 0 closed, 1 half-open, 2 open. */
const GAUGE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** The failures a breaker counts: the ones the retry schedule retries (5xx, 408, 425, 429, timeouts, network). */
export function isBreakerFailure(result: SendResult): boolean {
  return result.kind === 'failure' || isRetryableStatus(result.statusCode);
}

/** `probe`: this request was the half-open probe. */
export type BreakerOutcome = { kind: 'sent'; result: SendResult; probe: boolean } | { kind: 'rejected'; retryAt: number };

interface Entry {
  policy: CircuitBreakerPolicy;
  state: BreakerState;
  /** Epoch ms when it last opened. */
  openedAt: number;
}

export interface CircuitBreakersOptions {
  metrics: Metrics;
  logger: Logger;
  /** Epoch ms; must agree with Date.now, which cockatiel reads itself (tests fake both together). */
  now?: () => number;
  random?: () => number;
  /** Told each state change (serve's worker thread passes them to the api thread's admin views). */
  onChange?: (destinationId: string, state: BreakerState) => void;
}

/**
 * One cockatiel circuit breaker per destination. By default a SamplingBreaker: it opens when
 * more than `failureRate` of the requests over the last `window` failed, once there were at
 * least `minRequests` of them in that window, so a CRM failing half its requests (which the
 * retries and the adaptive concurrency handle) never trips it, and a CRM that is down does
 * within a few dozen requests. With `failures` set (the legacy setting) it is a
 * ConsecutiveBreaker(failures) instead. While open the destination's deliveries are held (no
 * request, no attempt spent) until halfOpenAfter has passed; then one delivery is the probe: a
 * success closes it, a failure opens it again. State lives in this process: each worker process
 * learns on its own that a CRM is down.
 */
export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: CircuitBreakersOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** The state in this process; `closed` for a destination never used. */
  state(destinationId: string): BreakerState {
    return this.entries.get(destinationId)?.state ?? 'closed';
  }

  /**
   * While open and not yet due for a probe, or while a probe is running: when to look again.
   * Null: go ahead (closed, or open long enough that this call becomes the probe).
   */
  heldUntil(destination: DestinationConfig): number | null {
    const entry = this.entry(destination);
    const { halfOpenAfterMs } = destination.circuitBreaker;
    if (entry.state === 'open') {
      const probeAt = entry.openedAt + halfOpenAfterMs;
      // Spread over a fifth of halfOpenAfter after it, so the backlog does not return at once.
      if (this.now() < probeAt) return Math.round(probeAt + this.random() * halfOpenAfterMs * 0.2);
      return null;
    }
    if (entry.state === 'half_open') return this.probeWaitRetryAt(destination);
    return null;
  }

  /** Runs `send` through the destination's breaker; `rejected` when it turned open (or is probing) meanwhile. */
  async execute(destination: DestinationConfig, send: () => Promise<SendResult>): Promise<BreakerOutcome> {
    const entry = this.entry(destination);
    // cockatiel makes callers arriving during a probe wait for it; hold them instead, so they
    // do not keep a worker slot for up to the destination's timeout.
    if (entry.state === 'half_open') return { kind: 'rejected', retryAt: this.probeWaitRetryAt(destination) };
    const probe = entry.state === 'open';
    try {
      return { kind: 'sent', result: await entry.policy.execute(send), probe };
    } catch (error) {
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
        return { kind: 'rejected', retryAt: this.heldUntil(destination) ?? this.probeWaitRetryAt(destination) };
      }
      throw error;
    }
  }

  /** A probe takes at most the destination's timeout; look again soon after. */
  private probeWaitRetryAt(destination: DestinationConfig): number {
    const wait = Math.min(destination.circuitBreaker.halfOpenAfterMs, destination.timeoutMs, 2_000);
    return Math.round(this.now() + wait * (1 + this.random()));
  }

  private entry(destination: DestinationConfig): Entry {
    const existing = this.entries.get(destination.id);
    if (existing) return existing;
    const { consecutiveFailures, failureRate, minRequests, windowMs, halfOpenAfterMs } = destination.circuitBreaker;
    const breaker =
      consecutiveFailures !== null
        ? new ConsecutiveBreaker(consecutiveFailures)
        : // minimumRps × window = minRequests; cockatiel opens above (not at) the threshold.
          new SamplingBreaker({ threshold: failureRate, duration: windowMs, minimumRps: (minRequests * 1000) / windowMs });
    const policy = circuitBreaker(
      handleWhenResult((result) => isBreakerFailure(result as SendResult)),
      { halfOpenAfter: halfOpenAfterMs, breaker },
    );
    const entry: Entry = { policy, state: 'closed', openedAt: 0 };
    const { metrics, logger } = this.options;
    const labels = { destination: destination.id };
    policy.onStateChange((state) => {
      entry.state = toState(state);
      if (entry.state === 'open') entry.openedAt = this.now();
      metrics.circuitBreakerState.set(labels, GAUGE[entry.state]);
      this.options.onChange?.(destination.id, entry.state);
      // The destination id only: nothing of the lead or the CRM's answer.
      logger.warn({ destination: destination.id, state: entry.state }, STATE_MESSAGES[entry.state]);
    });
    metrics.circuitBreakerState.set(labels, GAUGE.closed);
    this.entries.set(destination.id, entry);
    return entry;
  }
}

const STATE_MESSAGES: Record<BreakerState, string> = {
  open: 'circuit breaker opened: holding deliveries to the destination',
  half_open: 'circuit breaker half-open: probing the destination',
  closed: 'circuit breaker closed: the destination recovered',
};

function toState(state: CircuitState): BreakerState {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half_open';
  return 'open'; // Open, or Isolated (never used here)
}
