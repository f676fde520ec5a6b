import type { DestinationConfig } from '../../domain/config.js';
import {
  DEFAULT_MAX_WAIT_MS,
  granted,
  heldRetryAt,
  paceIntervalMs,
  sleep,
  type DestinationLimits,
  type LimitDecision,
  type LimitsOptions,
} from '../../ports/destination-limits.js';

/** Per-process limits: a counting semaphore with FIFO waiters and a GCRA pacer per destination. */
export class MemoryDestinationLimits implements DestinationLimits {
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly inFlight = new Map<string, { count: number; waiters: Array<() => void> }>();
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
    const { maxInFlight, rateLimitPerSecond } = destination;
    let releaseSlot: () => void = () => {};
    if (maxInFlight !== null) {
      const slot = await this.takeSlot(destination.id, maxInFlight, this.maxWaitMs);
      if (slot === null) {
        return { kind: 'held', reason: 'max_in_flight', retryAt: heldRetryAt(this.now(), 0, this.maxWaitMs, this.random) };
      }
      releaseSlot = slot;
    }
    if (rateLimitPerSecond !== null) {
      const horizon = Math.max(0, this.maxWaitMs - (this.now() - start));
      const wait = this.reserve(destination.id, paceIntervalMs(rateLimitPerSecond), horizon);
      if (wait.kind === 'held') {
        releaseSlot();
        return { kind: 'held', reason: 'rate_limit', retryAt: heldRetryAt(this.now(), wait.waitMs, this.maxWaitMs, this.random) };
      }
      if (wait.waitMs > 0) await this.sleep(wait.waitMs);
    }
    return granted(releaseSlot);
  }

  /** Nothing to release: a waiter gives up by itself within maxWaitMs. */
  async close(): Promise<void> {}

  /** Requests in flight now, per destination (for tests and the admin view). */
  inFlightCount(destinationId: string): number {
    return this.inFlight.get(destinationId)?.count ?? 0;
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

  /** A release function, or null when no slot freed up within `timeoutMs`. Waiters are served in order. */
  private takeSlot(id: string, limit: number, timeoutMs: number): Promise<(() => void) | null> {
    let state = this.inFlight.get(id);
    if (!state) {
      state = { count: 0, waiters: [] };
      this.inFlight.set(id, state);
    }
    const s = state;
    const release = (): void => {
      const next = s.waiters.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
      if (next) next();
      else s.count -= 1;
    };
    if (s.count < limit) {
      s.count += 1;
      return Promise.resolve(release);
    }
    if (timeoutMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
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
}
