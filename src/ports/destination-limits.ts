import type { DestinationConfig } from '../domain/config.js';

/**
 * Per-destination `max_in_flight` and `rate_limit` (requests per second), behind one interface
 * with two implementations chosen in src/container.ts: MemoryDestinationLimits
 * (src/adapters/memory/: per process, for the embedded SQLite queue and SQS) and
 * RedisDestinationLimits (src/adapters/bullmq/: shared by every worker on one Redis).
 *
 * The rate is paced, not windowed: one request every 1000 / rate_limit ms (GCRA, a token bucket
 * holding one token), with a 5 % margin. A fixed one-second window (rate-limiter-flexible's
 * model) lets 2 × N requests through around a window boundary, which is exactly what a CRM
 * counting N per second rejects; pacing keeps every 1-second span at N or fewer, as long as
 * network and event-loop jitter between two requests stays under ~50 ms.
 */
export interface DestinationLimits {
  /**
   * Takes an in-flight slot and a rate slot for `destination`, waiting up to the limits'
   * maxWaitMs. `granted`: send now, then call release() (once, even when the send failed).
   * `held`: no slot soon; the caller hands the delivery back with retryAt, spending no attempt.
   */
  acquire(destination: DestinationConfig): Promise<LimitDecision>;
  close(): Promise<void>;
}

export type LimitDecision =
  | { kind: 'granted'; release(): Promise<void> }
  | { kind: 'held'; retryAt: number; reason: 'max_in_flight' | 'rate_limit' };

/** Margin under the configured rate, so jitter cannot push N + 1 requests into a CRM's second. */
export const RATE_MARGIN = 1.05;

/** Milliseconds between two requests at `perSecond`. */
export function paceIntervalMs(perSecond: number): number {
  return (1000 / perSecond) * RATE_MARGIN;
}

export interface LimitsOptions {
  /** Longest wait for a slot inside the handler before the delivery is handed back (default 1000). */
  maxWaitMs?: number;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  /** [0, 1); spreads the retry times of held deliveries. */
  random?: () => number;
  /** How to wait; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_MAX_WAIT_MS = 1_000;

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * When a held delivery comes back: when the next slot should be free, plus up to one more
 * maxWait at random, so a backlog does not return all at once and the queue is not spun.
 */
export function heldRetryAt(now: number, waitMs: number, maxWaitMs: number, random: () => number): number {
  return Math.round(now + Math.max(waitMs, maxWaitMs) + random() * maxWaitMs);
}

/** A granted slot whose release runs once, however often it is called. */
export const granted = (release: () => void | Promise<void>): LimitDecision => {
  let released = false;
  return {
    kind: 'granted',
    async release() {
      if (released) return;
      released = true;
      await release();
    },
  };
};
