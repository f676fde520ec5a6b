import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job, JobHandler, JobQueue } from '../../src/ports/job-queue.js';
import type { LeadStore } from '../../src/ports/lead-store.js';
import { waitFor } from '../helpers/wait.js';
import { attemptResult, deferred, makeIngest, type Deferred } from './fixtures.js';

/**
 * What every JobQueue adapter must do. A queue is exercised through deliveries a store created,
 * so the fixture brings both. One line per adapter: describeJobQueueContract(name, factory).
 */

export interface JobQueueFactoryOptions {
  /** How long a claimed job stays hidden after its worker vanished (lease, lock, visibility timeout). */
  leaseMs: number;
}

export interface JobQueueFixture {
  /** Migrated and empty. */
  store: LeadStore;
  /** Migrated, not consuming yet. */
  queue: JobQueue;
  /** Another queue on the same backend, as a process restarted after a crash would open it. */
  newQueue(): Promise<JobQueue>;
  /**
   * Optional: make `queue` behave as if its process had been killed (no lease renewal, nothing
   * released), for adapters that keep a running handler's lease alive in-process (BullMQ renews
   * its lock). Without it, a handler that never resolves stands for the killed worker.
   */
  simulateCrash?(queue: JobQueue): Promise<void>;
  /** Stops and closes everything the fixture made, and removes its data. */
  cleanup(): Promise<void>;
}

const LEASE_MS = 300;

/** Lets pending callbacks run a few event-loop turns; not a sleep, nothing waits on a clock. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

export function describeJobQueueContract(
  name: string,
  factory: (options: JobQueueFactoryOptions) => Promise<JobQueueFixture>,
): void {
  describe(`JobQueue contract: ${name}`, () => {
    let fixture: JobQueueFixture;
    let store: LeadStore;
    let queue: JobQueue;
    let gates: Array<Deferred<void>>;

    beforeEach(async () => {
      fixture = await factory({ leaseMs: LEASE_MS });
      ({ store, queue } = fixture);
      gates = [];
    });
    afterEach(async () => {
      // Open every gate first, so a failed test does not leave cleanup waiting on a held handler.
      for (const g of gates) g.resolve();
      await fixture.cleanup();
    });

    /** A promise the test opens to let held handlers finish. */
    function gate(): Deferred<void> {
      const g = deferred();
      gates.push(g);
      return g;
    }

    /** Ingest a lead with these destinations and announce its deliveries, as the api does. */
    async function submit(destinations: string[]): Promise<string[]> {
      const command = makeIngest(destinations);
      await store.ingest(command);
      const receivedAt = Date.parse(command.lead.received_at);
      await queue.enqueue(command.deliveries.map((d) => ({ deliveryId: d.id, runAt: receivedAt })));
      return command.deliveries.map((d) => d.id);
    }

    /** What the delivery engine does on success: reload, record, finish. */
    async function deliver(job: Job): Promise<void> {
      const delivery = await store.getDelivery(job.deliveryId);
      if (!delivery || delivery.status !== 'pending') return;
      await store.recordAttempt(attemptResult(job.deliveryId, delivery.attempts + 1, 'delivered'));
    }

    it('migrates idempotently and answers ping', async () => {
      await queue.migrate();
      await expect(queue.ping()).resolves.toBeUndefined();
    });

    it('hands an enqueued delivery to the handler', async () => {
      const handed = deferred<Job>();
      queue.consume(
        async (job) => {
          await deliver(job);
          handed.resolve(job);
        },
        { concurrency: 2 },
      );
      const [id] = await submit(['crm-main']);
      const job = await handed.promise;
      expect(job.deliveryId).toBe(id);
      expect(typeof job.runAt).toBe('number');
      await queue.stop();
      expect((await store.getDelivery(id!))?.status).toBe('delivered');
    });

    it('reports its depth: the jobs it holds, none once they are done', async () => {
      const ids = await submit(['crm-main', 'call-centre']);
      expect(await queue.depth()).toBe(2);
      const done = new Set<string>();
      queue.consume(
        async (job) => {
          await deliver(job);
          done.add(job.deliveryId);
        },
        { concurrency: 2 },
      );
      await waitFor(() => done.size === ids.length, { what: 'every job handled', timeoutMs: 10_000 });
      await queue.stop();
      // Some backends settle their counts asynchronously (SQS deletes are batched).
      let depth = -1;
      await waitFor(async () => (depth = await queue.depth()) === 0, { what: 'queue depth 0', timeoutMs: 10_000 }).catch(() => {});
      expect(depth).toBe(0);
    });

    it('never runs more than `concurrency` handlers at once', async () => {
      const held = gate();
      const done = new Set<string>();
      let active = 0;
      let max = 0;
      queue.consume(
        async (job) => {
          active += 1;
          max = Math.max(max, active);
          await held.promise;
          await deliver(job);
          done.add(job.deliveryId);
          active -= 1;
        },
        { concurrency: 3 },
      );
      const ids = [...(await submit(['a', 'b', 'c', 'd'])), ...(await submit(['a', 'b', 'c', 'd']))];
      await waitFor(() => active >= 3, { what: '3 handlers active', timeoutMs: 10_000 });
      await turns();
      expect(active).toBe(3);
      held.resolve();
      await waitFor(() => done.size === ids.length, { what: 'every job handled', timeoutMs: 10_000 });
      expect(max).toBe(3);
      expect([...done].sort()).toEqual([...ids].sort());
      await queue.stop();
    });

    it('hands the job again after `retryAt`', async () => {
      const calls: Array<{ job: Job; at: number }> = [];
      const second = deferred();
      let retryAt = 0;
      queue.consume(
        async (job) => {
          calls.push({ job, at: Date.now() });
          const delivery = (await store.getDelivery(job.deliveryId))!;
          if (calls.length === 1) {
            retryAt = Date.now() + 200;
            await store.recordAttempt(attemptResult(job.deliveryId, delivery.attempts + 1, 'pending', retryAt));
            return { retryAt };
          }
          await deliver(job);
          second.resolve();
        },
        { concurrency: 1 },
      );
      const [id] = await submit(['crm-main']);
      await second.promise;
      expect(calls.map((c) => c.job.deliveryId)).toEqual([id, id]);
      expect(calls[1]!.at).toBeGreaterThanOrEqual(retryAt);
      await queue.stop();
      expect(await store.getDelivery(id!)).toMatchObject({ status: 'delivered', attempts: 2 });
    });

    it('hands the job again later when the handler rejects', async () => {
      const calls: string[] = [];
      const second = deferred();
      queue.consume(
        async (job) => {
          calls.push(job.deliveryId);
          if (calls.length === 1) throw new Error('store unreachable');
          await deliver(job);
          second.resolve();
        },
        { concurrency: 1 },
      );
      const [id] = await submit(['crm-main']);
      await second.promise;
      expect(calls).toEqual([id, id]);
      await queue.stop();
    });

    it('stop() waits for running handlers', async () => {
      const started = deferred();
      const release = gate();
      let finished = false;
      queue.consume(
        async (job) => {
          started.resolve();
          await release.promise;
          await deliver(job);
          finished = true;
        },
        { concurrency: 1 },
      );
      const [id] = await submit(['crm-main']);
      await started.promise;
      let stopped = false;
      const stopping = queue.stop().then(() => (stopped = true));
      await turns();
      expect(stopped).toBe(false);
      release.resolve();
      await stopping;
      expect(finished).toBe(true);
      expect((await store.getDelivery(id!))?.status).toBe('delivered');
    });

    it('a new consumer gets a job whose worker vanished, once the lease expired', async () => {
      const held = deferred<Job>();
      const vanished = gate();
      // The first worker takes the job and never answers, like a process killed mid-delivery.
      const stuck: JobHandler = async (job) => {
        held.resolve(job);
        await vanished.promise;
      };
      queue.consume(stuck, { concurrency: 1 });
      const [id] = await submit(['crm-main']);
      expect((await held.promise).deliveryId).toBe(id);
      await fixture.simulateCrash?.(queue);

      const restarted = await fixture.newQueue();
      const handed = deferred<{ job: Job; at: number }>();
      const leasedAt = Date.now();
      restarted.consume(
        async (job) => {
          await deliver(job);
          handed.resolve({ job, at: Date.now() });
        },
        { concurrency: 1 },
      );
      const { job, at } = await handed.promise;
      expect(job.deliveryId).toBe(id);
      // Not before the lease could have expired (with a little slack for clock granularity).
      expect(at - leasedAt).toBeGreaterThanOrEqual(LEASE_MS / 2);
      vanished.resolve();
      await Promise.all([queue.stop(), restarted.stop()]);
      expect((await store.getDelivery(id!))?.status).toBe('delivered');
    });
  });
}
