import type { DestinationConfig } from '../domain/config.js';

/**
 * Per-destination `max_in_flight`, adaptive concurrency, `Retry-After` pauses and `rate_limit`
 * (requests per second), behind one interface
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
  /** The adaptive concurrency limit now (null: not cut, only max_in_flight applies), for tests and the admin view. */
  adaptiveLimit(destinationId: string): Promise<number | null>;
  close(): Promise<void>;
}

export type LimitDecision =
  /** release(signal): what the request told about the CRM's load (see `loadSignal`); none when nothing was sent. */
  | { kind: 'granted'; release(signal?: LoadSignal): Promise<void> }
  | { kind: 'held'; retryAt: number; reason: HoldReasonOfLimits };

export type HoldReasonOfLimits = 'max_in_flight' | 'rate_limit' | 'retry_after';

/**
 * What one request said about the destination's load:
 * - `success`: a 2xx (grows the adaptive limit back);
 * - `overload`: 429, 503, a timeout or a connection error (cuts it); `retryAfterMs` from a
 *   429/503 also pauses the destination that long;
 * - `neutral`: anything else (a 400 or a 500 says nothing about load).
 */
export type LoadSignal =
  | { kind: 'success' }
  | { kind: 'overload'; retryAfterMs: number | null }
  | { kind: 'neutral' };

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
export const granted = (release: (signal: LoadSignal | undefined) => void | Promise<void>): LimitDecision => {
  let released = false;
  return {
    kind: 'granted',
    async release(signal) {
      if (released) return;
      released = true;
      await release(signal);
    },
  };
};

/**
 * Adaptive concurrency is AIMD (additive increase, multiplicative decrease), as TCP congestion
 * control: an overload signal halves the destination's limit (at most once per "round": only a
 * request started after the last cut can cut again, so 50 requests failing together cut once),
 * each success adds 1 / limit (about +1 per round of `limit` requests), up to the ceiling, where
 * only `max_in_flight` applies again. AIMD rather than a gradient limiter: the CRMs tell us
 * explicitly when they are overloaded (429, 503, timeouts), whereas latency on a shared network
 * is a noisy signal a gradient would chase; and one number per destination is cheap to share
 * through Redis.
 */
export const AIMD = {
  /** Multiplicative decrease on an overload signal. */
  decrease: 0.5,
  /** The limit never goes under this: one request at a time still probes the CRM. */
  floor: 1,
  /**
   * The ceiling when `max_in_flight` is not set: the destination client's connections per
   * origin. Admitting more would only queue requests inside the client, where neither a cut
   * nor a Retry-After pause can stop them any more.
   */
  defaultCeiling: 64,
} as const;

/** The adaptive limit's ceiling: max_in_flight, or AIMD.defaultCeiling. */
export function adaptiveCeiling(destination: DestinationConfig): number {
  return destination.maxInFlight ?? AIMD.defaultCeiling;
}

const SUCCESS: LoadSignal = Object.freeze({ kind: 'success' });
const NEUTRAL: LoadSignal = Object.freeze({ kind: 'neutral' });
const OVERLOAD: LoadSignal = Object.freeze({ kind: 'overload', retryAfterMs: null });

/** The load signal of a send: see LoadSignal. */
export function loadSignal(result: { kind: 'response'; statusCode: number; retryAfterMs: number | null } | { kind: 'failure' }): LoadSignal {
  if (result.kind === 'failure') return OVERLOAD;
  const { statusCode } = result;
  if (statusCode >= 200 && statusCode <= 299) return SUCCESS;
  if (statusCode === 429 || statusCode === 503) return result.retryAfterMs === null ? OVERLOAD : { kind: 'overload', retryAfterMs: result.retryAfterMs };
  return NEUTRAL;
}

/** Longest pause a Retry-After can impose on a destination (a CRM cannot stop deliveries for days). */
export const MAX_RETRY_AFTER_PAUSE_MS = 10 * 60_000;

/**
 * AIMD state of one destination, kept per process (memory) or mirrored in Redis. `limit` null
 * means "not cut": only max_in_flight applies.
 */
export interface AimdState {
  limit: number | null;
  /** Epoch ms of the last cut. */
  cutAt: number;
}

/**
 * The next state after a request that started at `startedAt` ended with `signal`. `inFlight`
 * (this request included), when known, bounds where a cut starts from: halving a limit of 256
 * while 10 requests are in flight would change nothing.
 */
export function aimdNext(state: AimdState, signal: LoadSignal, startedAt: number, now: number, ceiling: number, inFlight = Infinity): AimdState {
  if (signal.kind === 'overload') {
    if (state.limit !== null && startedAt < state.cutAt) return state; // this round already cut
    const from = Math.min(state.limit ?? ceiling, Math.max(1, inFlight));
    return { limit: Math.max(AIMD.floor, Math.floor(from * AIMD.decrease)), cutAt: now };
  }
  if (signal.kind === 'success' && state.limit !== null) {
    const limit = state.limit + 1 / state.limit;
    return { limit: limit >= ceiling ? null : limit, cutAt: state.cutAt };
  }
  return state;
}
