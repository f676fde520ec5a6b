import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBudgets } from '../../src/adapters/bullmq/request-budgets.js';
import { LimiterBudgets } from '../../src/adapters/memory/request-budgets.js';
import type { RequestBudgets } from '../../src/ports/request-budgets.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

/** The RequestBudgets port on both implementations: in process, and shared through a real redis-server. */

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.close();
});
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  if (!redis.running) await redis.restart();
  for (const close of closers.splice(0).reverse()) await close();
});

/** Resolves once connected: until then (as while Redis is away) the in-memory fallback answers. */
async function redisBudgets(): Promise<RequestBudgets> {
  const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  const budgets = createRedisBudgets(client, async () => void client.disconnect());
  closers.push(() => budgets.close());
  if (client.status !== 'ready') await once(client, 'ready');
  return budgets;
}

const implementations: Array<[string, () => Promise<RequestBudgets>]> = [
  ['memory', async () => new LimiterBudgets()],
  ['redis', redisBudgets],
];

describe.each(implementations)('RequestBudgets (%s)', (_name, make) => {
  it('grants perMinute spends per key, then says how long to wait; check spends nothing', async () => {
    const budgets = await make();
    const key = `k-${randomUUID()}`;
    expect(await budgets.check(key, 2)).toBeNull();
    expect(await budgets.spend(key, 2)).toBeNull();
    expect(await budgets.check(key, 2)).toBeNull();
    expect(await budgets.spend(key, 2)).toBeNull();
    const wait = await budgets.check(key, 2);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    expect(await budgets.spend(key, 2)).toBeGreaterThan(0);
    // Another key has its own budget.
    expect(await budgets.spend(`other-${key}`, 2)).toBeNull();
  });
});

describe('RequestBudgets shared through Redis', () => {
  it('two instances on one Redis enforce one budget', async () => {
    const a = await redisBudgets();
    const b = await redisBudgets();
    const key = `k-${randomUUID()}`;
    expect(await a.spend(key, 3)).toBeNull();
    expect(await b.spend(key, 3)).toBeNull();
    expect(await a.spend(key, 3)).toBeNull();
    expect(await b.spend(key, 3)).toBeGreaterThan(0);
    expect(await a.check(key, 3)).toBeGreaterThan(0);
  });

  it('falls back to a per-instance budget while Redis is down, instead of failing or opening', async () => {
    const budgets = await redisBudgets();
    const key = `k-${randomUUID()}`;
    await budgets.spend(key, 2);
    await redis.kill();
    const spends = [await budgets.spend(key, 2), await budgets.spend(key, 2), await budgets.spend(key, 2)];
    expect(spends.slice(0, 2)).toEqual([null, null]);
    expect(spends[2]).toBeGreaterThan(0);
  });
});
