import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RequestBudgets } from '../../ports/request-budgets.js';

const WINDOW_SECONDS = 60;

/** Builds the limiter of one budget size; rate-limiter-flexible limiters have fixed points. */
export type LimiterFactory = (points: number, durationSeconds: number) => RateLimiterAbstract;

/**
 * RequestBudgets on rate-limiter-flexible limiters, one per budget size. In memory by default
 * (per process); the Redis variant passes its own factory.
 */
export class LimiterBudgets implements RequestBudgets {
  private readonly limiters = new Map<number, RateLimiterAbstract>();

  constructor(
    private readonly makeLimiter: LimiterFactory = (points, duration) => new RateLimiterMemory({ points, duration }),
    /** Closes what the limiters use (the Redis connection of the shared variant). */
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async spend(key: string, perMinute: number): Promise<number | null> {
    try {
      await this.limiter(perMinute).consume(key);
      return null;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
      throw rejection;
    }
  }

  async check(key: string, perMinute: number): Promise<number | null> {
    const used = await this.limiter(perMinute).get(key);
    return used !== null && used.consumedPoints >= perMinute ? Math.max(1, used.msBeforeNext) : null;
  }

  close(): Promise<void> {
    return this.onClose();
  }

  private limiter(perMinute: number): RateLimiterAbstract {
    let limiter = this.limiters.get(perMinute);
    if (limiter === undefined) {
      limiter = this.makeLimiter(perMinute, WINDOW_SECONDS);
      this.limiters.set(perMinute, limiter);
    }
    return limiter;
  }
}
