import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createSweeper } from '../../src/worker/sweeper.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { makeIngest } from '../contract/fixtures.js';

const logger = pino({ level: 'silent' });

describe('sweeper', () => {
  it('re-announces pending deliveries overdue by more than the grace, and only those', async () => {
    const store = new MemoryStore();
    const queue = new FakeQueue();
    const t = Date.now();
    const old = makeIngest(['crm-main', 'call-centre'], { lead: { received_at: new Date(t - 120_000).toISOString() } });
    const fresh = makeIngest(['crm-main'], { lead: { received_at: new Date(t - 1_000).toISOString() } });
    await store.ingest(old);
    await store.ingest(fresh);

    const sweeper = createSweeper({ store, queue, logger, graceMs: 60_000, now: () => t });
    expect(await sweeper.sweep()).toBe(2);
    expect(queue.jobs.map((j) => j.deliveryId).sort()).toEqual(old.deliveries.map((d) => d.id).sort());
    expect(queue.jobs.every((j) => j.runAt === t - 120_000)).toBe(true);
  });

  it('does nothing when nothing is overdue, and lets a failing queue surface its error', async () => {
    const store = new MemoryStore();
    const queue = new FakeQueue();
    const sweeper = createSweeper({ store, queue, logger });
    expect(await sweeper.sweep()).toBe(0);
    await store.ingest(makeIngest(['crm-main'], { lead: { received_at: new Date(Date.now() - 3_600_000).toISOString() } }));
    queue.failEnqueue = true;
    await expect(sweeper.sweep()).rejects.toThrow();
    expect(queue.jobs).toHaveLength(0);
  });
});
