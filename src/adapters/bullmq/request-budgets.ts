import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { LimiterBudgets } from '../memory/request-budgets.js';

/**
 * Budgets every instance shares through Redis, so N api instances enforce one budget. While
 * Redis cannot answer, each instance falls back to its own in-memory budget (the insurance
 * limiter): the edge stays protected per instance rather than open or closed to everyone.
 */
export function createRedisBudgets(client: Redis, close: () => Promise<void>): LimiterBudgets {
  return new LimiterBudgets(
    (points, duration) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `leadgate:budget:${points}`,
        points,
        duration,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ points, duration }),
      }),
    close,
  );
}
