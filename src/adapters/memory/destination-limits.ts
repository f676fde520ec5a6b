import type { DestinationConfig } from '../../domain/config.js';
import {
  DEFAULT_MAX_WAIT_MS,
  MAX_RETRY_AFTER_PAUSE_MS,
  adaptiveCeiling,
  aimdNext,
  granted,
  heldRetryAt,
  paceIntervalMs,
  sleep,
  type AimdState,
  type DestinationLimits,
  type LimitDecision,
  type LimitsOptions,
  type LoadSignal,
} from '../../ports/destination-limits.js';

interface Slots {
  count: number;
  waiters: Array<() => void>;
  aimd: AimdState;
  /** Epoch ms until which a Retry-After paused the destination. */
  pausedUntil: number;
}

/**
 * Per-process limits: a counting semaphore with FIFO waiters whose size is min(max_in_flight,
 * the AIMD limit), a Retry-After pause and a GCRA pacer per destination.
 */
export class MemoryDestinationLimits implements DestinationLimits {
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly slots = new Map<string, Slots>();
  /** Theoretical arrival time per destination: when the next request may start. */
  private readonly tat = new Map<string, number>();

  constructor(options: LimitsOptions = {}) {
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleep;
  }

  async acquire(destination: DestinationConfig): Promise<LimitDecision> {
    const start = this.now();
    const s = this.state(destination.id);
    if (s.pausedUntil > start) {
      const wait = s.pausedUntil - start;
      if (wait > this.maxWaitMs) {
        return { kind: 'held', reason: 'retry_after', retryAt: heldRetryAt(start, wait, this.maxWaitMs, this.random) };
      }
      await this.sleep(wait);
    }
    const slot = await this.takeSlot(s, destination, Math.max(0, this.maxWaitMs - (this.now() - start)));
    if (slot === null) {
      return { kind: 'held', reason: 'max_in_flight', retryAt: heldRetryAt(this.now(), Math.max(0, s.pausedUntil - this.now()), this.maxWaitMs, this.random) };
    }
    // A Retry-After may have arrived while this one waited for its slot.
    if (s.pausedUntil > this.now()) {
      slot(undefined);
      return { kind: 'held', reason: 'retry_after', retryAt: heldRetryAt(this.now(), s.pausedUntil - this.now(), this.maxWaitMs, this.random) };
    }
    const { rateLimitPerSecond } = destination;
    if (rateLimitPerSecond !== null) {
      const horizon = Math.max(0, this.maxWaitMs - (this.now() - start));
      const wait = this.reserve(destination.id, paceIntervalMs(rateLimitPerSecond), horizon);
      if (wait.kind === 'held') {
        slot(undefined);
        return { kind: 'held', reason: 'rate_limit', retryAt: heldRetryAt(this.now(), wait.waitMs, this.maxWaitMs, this.random) };
      }
      if (wait.waitMs > 0) await this.sleep(wait.waitMs);
    }
    return granted(slot);
  }

  async adaptiveLimit(destinationId: string): Promise<number | null> {
    return this.slots.get(destinationId)?.aimd.limit ?? null;
  }

  /** Nothing to release: a waiter gives up by itself within maxWaitMs. */
  async close(): Promise<void> {}

  /** Requests in flight now, per destination (for tests and the admin view). */
  inFlightCount(destinationId: string): number {
    return this.slots.get(destinationId)?.count ?? 0;
  }

  private state(id: string): Slots {
    let s = this.slots.get(id);
    if (!s) {
      s = { count: 0, waiters: [], aimd: { limit: null, cutAt: 0 }, pausedUntil: 0 };
      this.slots.set(id, s);
    }
    return s;
  }

  /**
   * GCRA with a burst of one: the request may start at tat (or now, if later); it is reserved
   * (tat moves one interval on) only if that is within the horizon.
   */
  private reserve(id: string, intervalMs: number, horizonMs: number): { kind: 'ok' | 'held'; waitMs: number } {
    const now = this.now();
    const start = Math.max(this.tat.get(id) ?? now, now);
    const waitMs = start - now;
    if (waitMs > horizonMs) return { kind: 'held', waitMs };
    this.tat.set(id, start + intervalMs);
    return { kind: 'ok', waitMs };
  }

  /** The current size of the destination's semaphore. */
  private limitOf(s: Slots, destination: DestinationConfig): number {
    const cap = adaptiveCeiling(destination);
    return s.aimd.limit === null ? cap : Math.min(cap, Math.floor(s.aimd.limit));
  }

  /**
   * A release function (taking the request's load signal), or null when no slot freed up within
   * `timeoutMs`. Waiters are served in order; a cut limit lets the surplus drain before waking any.
   */
  private takeSlot(s: Slots, destination: DestinationConfig, timeoutMs: number): Promise<((signal: LoadSignal | undefined) => void) | null> {
    let startedAt = this.now();
    const ceiling = adaptiveCeiling(destination);
    const release = (signal: LoadSignal | undefined): void => {
      if (signal) this.observe(s, signal, startedAt, ceiling);
      s.count -= 1;
      const limit = this.limitOf(s, destination);
      while (s.count < limit && s.waiters.length > 0) {
        s.count += 1;
        s.waiters.shift()!();
      }
    };
    if (s.count < this.limitOf(s, destination)) {
      s.count += 1;
      return Promise.resolve(release);
    }
    if (timeoutMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        startedAt = this.now();
        resolve(release);
      };
      const timer = setTimeout(() => {
        const index = s.waiters.indexOf(wake);
        if (index >= 0) s.waiters.splice(index, 1);
        resolve(null);
      }, timeoutMs);
      s.waiters.push(wake);
    });
  }

  private observe(s: Slots, signal: LoadSignal, startedAt: number, ceiling: number): void {
    const now = this.now();
    s.aimd = aimdNext(s.aimd, signal, startedAt, now, ceiling, s.count);
    if (signal.kind === 'overload' && signal.retryAfterMs !== null && signal.retryAfterMs > 0) {
      s.pausedUntil = Math.max(s.pausedUntil, now + Math.min(signal.retryAfterMs, MAX_RETRY_AFTER_PAUSE_MS));
    }
  }
}
