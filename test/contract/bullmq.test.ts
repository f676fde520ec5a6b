import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { BullmqJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import type { JobQueue } from '../../src/ports/job-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeJobQueueContract } from './job-queue.contract.js';

// One redis-server for this file; each test gets its own queue name, so nothing carries over.
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.close();
});

describeJobQueueContract('bullmq (redis-server)', async ({ leaseMs }) => {
  // The queue is under test, so the store is the in-memory one that passes the store contract.
  const store = new MemoryStore();
  await store.migrate();
  const queueName = `contract-${randomUUID()}`;
  const open = (): BullmqJobQueue =>
    new BullmqJobQueue({
      redisUrl: redis.url,
      queueName,
      // The contract's lease is BullMQ's lock: renewed at half of it, checked for expiry as often.
      lockDurationMs: leaseMs,
      stalledIntervalMs: leaseMs,
      // A rejected handler's job comes back after this, not the production 1 s.
      retryBaseMs: 50,
    });
  const queues = [open()];
  return {
    store,
    queue: queues[0]!,
    newQueue: async () => {
      const queue = open();
      queues.push(queue);
      return queue;
    },
    // In-process, BullMQ would renew the lock of the never-answering handler for ever.
    simulateCrash: (queue: JobQueue) => (queue as BullmqJobQueue).disconnectAbruptly(),
    cleanup: async () => {
      await Promise.all(queues.map((q) => q.close()));
      await store.close();
    },
  };
});
