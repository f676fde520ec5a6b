import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BullmqJobQueue, InvalidJobPayloadError, QueueUnavailableError } from '../../src/adapters/bullmq/job-queue.js';
import type { Job } from '../../src/ports/job-queue.js';
import { deferred } from '../contract/fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

/** What only the BullMQ adapter promises: job id dedupe, payload checks, and riding out a Redis restart. */

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.close();
});

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  // A test that killed Redis and failed before restarting it must not break the next one.
  if (!redis.running) await redis.restart();
  for (const close of closers.splice(0).reverse()) await close();
});

function openQueue(options: Partial<ConstructorParameters<typeof BullmqJobQueue>[0]> = {}): BullmqJobQueue {
  const queue = new BullmqJobQueue({ redisUrl: redis.url, queueName: `it-${randomUUID()}`, retryBaseMs: 50, ...options });
  closers.push(() => queue.close());
  return queue;
}

/** Resolves once `queue` answers PING: a reconnection announces itself by no event we can hear. */
const answersPing = (queue: BullmqJobQueue) =>
  waitFor(() => queue.ping().then(() => true, () => false), { what: 'the queue to answer PING', timeoutMs: 15_000 });

/** Records every handled delivery; `when(ids)` resolves once each was handled `times` times. */
function recorder() {
  const handled: Array<{ deliveryId: string; at: number }> = [];
  const waiters: Array<() => void> = [];
  const count = (id: string): number => handled.filter((h) => h.deliveryId === id).length;
  return {
    handled,
    count,
    handler: async (job: Job): Promise<void> => {
      handled.push({ deliveryId: job.deliveryId, at: Date.now() });
      for (const wake of waiters.splice(0)) wake();
    },
    async when(ids: string[], times = 1): Promise<void> {
      while (!ids.every((id) => count(id) >= times)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/** A plain BullMQ producer on the same queue, to look at Redis directly or write what leadgate never would. */
function rawQueue(name: string): Queue {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  closers.push(async () => {
    await queue.close();
    connection.disconnect();
  });
  return queue;
}

describe('BullmqJobQueue on redis-server', () => {
  it('runs a delivery enqueued twice only once (job id = delivery id)', async () => {
    const queue = openQueue();
    const [dup, sentinel] = [randomUUID(), randomUUID()];
    const now = Date.now();
    await queue.enqueue([{ deliveryId: dup, runAt: now }]);
    await queue.enqueue([
      { deliveryId: dup, runAt: now },
      { deliveryId: sentinel, runAt: now },
    ]);
    const r = recorder();
    // One at a time, in arrival order: by the time the sentinel ran, a second copy would have too.
    queue.consume(r.handler, { concurrency: 1 });
    await r.when([sentinel]);
    expect(r.count(dup)).toBe(1);
  });

  it('keeps no personal data and no finished job in Redis, so a replay can add the id again', async () => {
    const queue = openQueue();
    const raw = rawQueue(queue.queueName);
    const r = recorder();
    const id = randomUUID();
    await queue.enqueue([{ deliveryId: id, runAt: Date.now() + 60_000 }]);
    const parked = await raw.getJob(id);
    expect(parked?.data).toEqual({ deliveryId: id });
    await raw.remove(id); // as if it had run: the next enqueue must not be ignored

    queue.consume(r.handler, { concurrency: 1 });
    await queue.enqueue([{ deliveryId: id, runAt: Date.now() }]);
    await r.when([id]);
    // Completed jobs are removed (once BullMQ has recorded the outcome, just after the handler).
    await waitFor(async () => (await raw.getJob(id)) === undefined, { what: 'the completed job removed', timeoutMs: 15_000 });
    await queue.enqueue([{ deliveryId: id, runAt: Date.now() }]);
    await r.when([id], 2);
  });

  it('drops a job without a deliveryId and reports it', async () => {
    const reported = deferred<unknown>();
    const queue = openQueue({ onError: (error) => reported.resolve(error) });
    await rawQueue(queue.queueName).add('deliver', { lead: 'x' }, { jobId: 'bogus' });
    const r = recorder();
    queue.consume(r.handler, { concurrency: 1 });
    expect(await reported.promise).toBeInstanceOf(InvalidJobPayloadError);
    const sentinel = randomUUID();
    await queue.enqueue([{ deliveryId: sentinel, runAt: Date.now() }]);
    await r.when([sentinel]);
    expect(r.handled.map((h) => h.deliveryId)).toEqual([sentinel]);
  });

  it('ping and enqueue reject while Redis is down, and work again once it is back', async () => {
    const queue = openQueue({ commandTimeoutMs: 1_000 });
    await queue.ping();
    await redis.kill();
    // They reject rather than wait for Redis: a hang would end this test at its timeout.
    for (const call of [() => queue.ping(), () => queue.enqueue([{ deliveryId: randomUUID(), runAt: Date.now() }])]) {
      await expect(call()).rejects.toBeInstanceOf(Error);
    }
    // Between reconnection attempts, refused at once: "not connected" is thrown before any
    // command is sent or any timer armed (a timeout would say "timed out").
    let refusal: unknown;
    await waitFor(
      async () => {
        refusal = await queue.ping().then(() => null, (error: unknown) => error);
        return refusal instanceof QueueUnavailableError && /not connected/.test(refusal.message);
      },
      { what: 'a ping refused as not connected', timeoutMs: 15_000 },
    );
    expect((refusal as Error).message).not.toMatch(/timed out/);
    await redis.restart();
    await answersPing(queue);
    await queue.enqueue([{ deliveryId: randomUUID(), runAt: Date.now() }]);
  });

  it('a queue opened while Redis is down refuses at once, then connects by itself', async () => {
    await redis.kill();
    const queue = openQueue();
    const r = recorder();
    queue.consume(r.handler, { concurrency: 1 });
    await expect(queue.ping()).rejects.toBeInstanceOf(QueueUnavailableError);
    await expect(queue.enqueue([{ deliveryId: randomUUID(), runAt: Date.now() }])).rejects.toBeInstanceOf(
      QueueUnavailableError,
    );
    await redis.restart();
    await answersPing(queue);
    const id = randomUUID();
    await queue.enqueue([{ deliveryId: id, runAt: Date.now() }]);
    await r.when([id]);
  });

  it('a worker rides out kill -9 and restart of Redis: delayed jobs survive (AOF) and run', async () => {
    const queue = openQueue();
    const r = recorder();
    queue.consume(r.handler, { concurrency: 4 });
    const warmup = randomUUID();
    await queue.enqueue([{ deliveryId: warmup, runAt: Date.now() }]);
    await r.when([warmup]); // the worker is connected and fetching

    const ids: string[] = Array.from({ length: 5 }, () => randomUUID());
    const runAt = Date.now() + 1_000;
    await queue.enqueue(ids.map((deliveryId) => ({ deliveryId, runAt })));
    await redis.kill();
    await redis.restart();
    // No new queue, no call on the old one: the worker reconnects and fetches by itself.
    await r.when(ids);
    for (const id of ids) expect(r.count(id)).toBe(1);
    expect(Math.min(...r.handled.filter((h) => ids.includes(h.deliveryId)).map((h) => h.at))).toBeGreaterThanOrEqual(runAt);
  });

  it('stop() and close() finish while Redis is down', async () => {
    // BullMQ's own close would wait for Redis for ever; the grace bounds it.
    const queue = openQueue({ closeGraceMs: 200 });
    const r = recorder();
    queue.consume(r.handler, { concurrency: 1 });
    await queue.ping();
    await redis.kill();
    // Both resolve (without the grace they would wait for Redis for ever, past this test's timeout).
    await queue.stop();
    await queue.close();
    await expect(queue.ping()).rejects.toThrow(/queue is closed/);
  });
});
