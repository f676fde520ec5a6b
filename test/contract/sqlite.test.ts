import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { SqliteJobQueue } from '../../src/adapters/sqlite/job-queue.js';
import { openSqliteDatabase, type SqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import { SqliteHandoff } from '../../src/adapters/sqlite/handoff.js';
import { linkHandoffToPort, PortHandoffSource } from '../../src/adapters/sqlite/handoff-port.js';
import { MessageChannel } from 'node:worker_threads';
import type { Job } from '../../src/ports/job-queue.js';
import { describeJobQueueContract } from './job-queue.contract.js';
import { waitFor } from '../helpers/wait.js';
import { attemptResult, deferred, makeIngest } from './fixtures.js';
import { describeLeadStoreContract, type LeadStoreFixture } from './lead-store.contract.js';
import { describeLeadStoreOpsContract } from './lead-store-ops.contract.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-'));
const removeDir = (dir: string): void => fs.rmSync(dir, { recursive: true, force: true });

async function sqliteStore(): Promise<LeadStoreFixture> {
  const dir = tempDir();
  const store = new SqliteLeadStore(openSqliteDatabase(dir));
  await store.migrate();
  return {
    store,
    cleanup: async () => {
      await store.close();
      removeDir(dir);
    },
  };
}

describeLeadStoreContract('sqlite', sqliteStore);
describeLeadStoreOpsContract('sqlite', sqliteStore);

describeJobQueueContract('sqlite', async ({ leaseMs }) => {
  const dir = tempDir();
  const store = new SqliteLeadStore(openSqliteDatabase(dir));
  await store.migrate();
  // A short poll so lease expiry is noticed quickly; enqueue wakes the consumer anyway.
  const queues = [new SqliteJobQueue(openSqliteDatabase(dir), { leaseMs, pollIntervalMs: 20 })];
  return {
    store,
    queue: queues[0]!,
    // A second connection to the same file, as a restarted process would open.
    newQueue: async () => {
      const queue = new SqliteJobQueue(openSqliteDatabase(dir), { leaseMs, pollIntervalMs: 20 });
      queues.push(queue);
      return queue;
    },
    cleanup: async () => {
      await Promise.all(queues.map((q) => q.close()));
      await store.close();
      removeDir(dir);
    },
  };
});

describe('sqlite adapters: specifics', () => {
  const cleanups = cleanupAfterEach();

  function open(): { dir: string; db: SqliteDatabase } {
    const dir = path.join(tempDir(), 'nested', 'data');
    const db = openSqliteDatabase(dir);
    cleanups.push(async () => {
      await db.close();
      removeDir(path.dirname(path.dirname(dir)));
    });
    return { dir, db };
  }

  it('creates the data dir, sets the pragmas and records migrations once', async () => {
    const { dir, db } = open();
    expect(fs.existsSync(path.join(dir, 'leadgate.db'))).toBe(true);
    expect(db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.migrate();
    db.migrate();
    const versions = db.db.prepare('SELECT version FROM schema_migrations').pluck().all();
    // Every numbered file, once each (other migrations are added over time).
    expect(versions).toEqual(expect.arrayContaining(['001_init.sql', '002_fingerprints.sql']));
    expect(new Set(versions).size).toBe(versions.length);
    const tables = db.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(
      expect.arrayContaining(['attempts', 'deliveries', 'idempotency_keys', 'lead_fingerprints', 'leads', 'schema_migrations']),
    );
  });

  it('enqueue wakes an idle consumer at once, without waiting for the poll', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    // The poll timer is a fake that is never advanced: only enqueue's wake-up can hand the job
    // (were it missing, this test would end at its timeout).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => void vi.useRealTimers());
    const queue = new SqliteJobQueue(db, { pollIntervalMs: 60_000 });
    cleanups.push(() => queue.stop());
    const handed = deferred<Job>();
    queue.consume(async (job) => handed.resolve(job), { concurrency: 1 });
    // Let the consumer go idle first (its first look finds nothing and arms the 60 s timer).
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const command = makeIngest(['crm-main']);
    await store.ingest(command);
    expect(vi.getTimerCount()).toBe(1); // the idle consumer's poll, armed and never to fire
    await queue.enqueue([{ deliveryId: command.deliveries[0]!.id, runAt: Date.now() }]);
    const job = await handed.promise;
    expect(job.deliveryId).toBe(command.deliveries[0]!.id);
  });

  it('releases the lease when the handler finishes without recording an attempt', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    const queue = new SqliteJobQueue(db);
    const command = makeIngest(['crm-main']);
    await store.ingest(command);
    const id = command.deliveries[0]!.id;
    const handled = deferred();
    queue.consume(async () => handled.resolve(), { concurrency: 1 });
    await handled.promise;
    await queue.stop();
    const lease = db.db.prepare('SELECT lease_until FROM deliveries WHERE id = ?').pluck().get(id);
    expect(lease).toBeNull();
  });

  describe('hand-off from the ingest to the worker of the same process (leadgate serve)', () => {
    function handoffPair(bound?: number) {
      const { db } = open();
      const handoff = new SqliteHandoff(bound);
      const store = new SqliteLeadStore(db, { handoff });
      const queue = new SqliteJobQueue(db, { handoff, leaseMs: 30_000, pollIntervalMs: 20 });
      cleanups.push(() => queue.stop());
      const reads = { delivery: 0, lead: 0 };
      const getDelivery = store.getDelivery.bind(store);
      const getLead = store.getLead.bind(store);
      store.getDelivery = (id) => ((reads.delivery += 1), getDelivery(id));
      store.getLead = (id) => ((reads.lead += 1), getLead(id));
      const leaseOf = (id: string) => db.db.prepare('SELECT lease_until FROM deliveries WHERE id = ?').pluck().get(id) as number | null;
      return { db, handoff, store, queue, reads, leaseOf };
    }

    it('writes the claim with the insert and hands the delivery and lead over after COMMIT: no read, no claim write', async () => {
      const { db, handoff, store, queue, reads, leaseOf } = handoffPair();
      await store.migrate();
      const jobs: Job[] = [];
      const gate = deferred();
      queue.consume(async (job) => {
        jobs.push(job);
        await gate.promise;
        await store.recordAttempt(attemptResult(job.deliveryId, 1, 'delivered'));
      }, { concurrency: 8 });
      await new Promise((r) => setImmediate(r));
      let writes = 0;
      const write = db.write.bind(db);
      db.write = (fn) => ((writes += 1), write(fn));
      const commitsBefore = db.commits;
      const command = makeIngest(['crm-main', 'crm-backup']);
      await store.ingest(command);
      // Leased in the ingest's own transaction, so already claimed when the 202 could go out.
      expect(db.commits).toBe(commitsBefore + 1);
      for (const d of command.deliveries) expect(leaseOf(d.id)).toBeGreaterThan(Date.now());
      expect(jobs.map((j) => j.deliveryId).sort()).toEqual(command.deliveries.map((d) => d.id).sort());
      expect(jobs[0]!.preloaded?.lead).toEqual(command.lead);
      expect(jobs[0]!.preloaded?.delivery).toMatchObject({ status: 'pending', attempts: 0, cycleAttempts: 0, leadId: command.lead.id });
      expect(handoff.size).toBe(2);
      gate.resolve();
      await waitFor(() => handoff.size === 0);
      for (const d of command.deliveries) expect(leaseOf(d.id)).toBeNull();
      // The ingest and the two attempts: no claim, no lease write; nothing read back.
      expect(writes).toBe(3);
      expect(reads).toEqual({ delivery: 0, lead: 0 });
    });

    it('without a consuming worker, or over the bound, deliveries are written unleased and go through the table', async () => {
      const { store, queue, reads, leaseOf, handoff } = handoffPair(1);
      await store.migrate();
      const alone = makeIngest(['crm-main']);
      await store.ingest(alone); // nobody consumes yet
      expect(leaseOf(alone.deliveries[0]!.id)).toBeNull();
      const jobs: Job[] = [];
      const hold = deferred();
      queue.consume(async (job) => {
        jobs.push(job);
        await hold.promise;
      }, { concurrency: 8 });
      await waitFor(() => jobs.length === 1); // the table's claim took the first
      expect(jobs[0]!.deliveryId).toBe(alone.deliveries[0]!.id);
      const first = makeIngest(['crm-main']);
      const second = makeIngest(['crm-main']);
      await Promise.all([store.ingest(first), store.ingest(second)]);
      expect(handoff.size).toBe(1); // the bound: one handed off...
      expect(leaseOf(first.deliveries[0]!.id)).not.toBeNull();
      expect(leaseOf(second.deliveries[0]!.id)).toBeNull(); // ...the other left to the table
      await waitFor(() => jobs.length === 3);
      expect(jobs.map((j) => j.deliveryId).sort()).toEqual([alone, first, second].map((c) => c.deliveries[0]!.id).sort());
      hold.resolve();
      expect(reads).toEqual({ delivery: 0, lead: 0 }); // the queue itself never reads them
    });

    it('stop gives handed-off deliveries that did not start back to the table at once', async () => {
      const { store, queue, leaseOf } = handoffPair();
      await store.migrate();
      const hold = deferred();
      let started = 0;
      queue.consume(async () => {
        started += 1;
        await hold.promise;
      }, { concurrency: 1 }); // one slot: the second handed-off delivery waits in line
      await new Promise((r) => setImmediate(r));
      const command = makeIngest(['crm-main', 'crm-backup']);
      await store.ingest(command);
      expect(command.deliveries.filter((d) => leaseOf(d.id) !== null)).toHaveLength(2);
      await waitFor(() => started === 1); // a single slot still takes handed-off work
      const stopping = queue.stop();
      hold.resolve();
      await stopping;
      expect(started).toBe(1);
      // The one that ran gave its lease back when its handler ended; the one that never started
      // is back in the table too, now rather than at lease expiry (30 s).
      expect(command.deliveries.filter((d) => leaseOf(d.id) !== null)).toHaveLength(0);
    });

    it('a claim from the table gives each job its delivery and lead as claimed, without a read per job', async () => {
      const { db } = open();
      const store = new SqliteLeadStore(db);
      await store.migrate();
      const commands = [makeIngest(['crm-main', 'crm-backup']), makeIngest(['crm-main'])];
      for (const command of commands) await store.ingest(command);
      const statements: string[] = [];
      const statement = db.statement.bind(db);
      db.statement = (sql) => (statements.push(sql), statement(sql));
      const queue = new SqliteJobQueue(db, { pollIntervalMs: 20 });
      cleanups.push(() => queue.stop());
      const jobs: Job[] = [];
      queue.consume(async (job) => {
        jobs.push(job);
        await store.recordAttempt(attemptResult(job.deliveryId, 1, 'delivered'));
      }, { concurrency: 8 });
      await waitFor(async () => (await store.listDeliveries({ limit: 10, status: 'delivered' })).items.length === 3);
      expect(jobs).toHaveLength(3);
      for (const job of jobs) {
        const command = commands.find((c) => c.deliveries.some((d) => d.id === job.deliveryId))!;
        expect(job.preloaded?.lead).toEqual(command.lead);
        expect(job.preloaded?.delivery).toMatchObject({ id: job.deliveryId, status: 'pending', attempts: 0, leadId: command.lead.id });
      }
      // One claim and one read of the leads for the batch; nothing per job.
      expect(statements.filter((sql) => sql.startsWith('SELECT id, data FROM leads'))).toHaveLength(1);
      expect(statements.filter((sql) => /^SELECT (\*|data) FROM (deliveries|leads) WHERE id = \?$/.test(sql))).toHaveLength(0);
    });

    it("across threads (serve's worker thread): the same hand-off over a MessagePort, each side on its own connection", async () => {
      const { dir, db } = open();
      const worker = openSqliteDatabase(dir); // the worker thread's connection to the same file
      cleanups.push(() => worker.close());
      const channel = new MessageChannel();
      cleanups.push(() => channel.port1.close());
      const handoff = new SqliteHandoff();
      linkHandoffToPort(handoff, channel.port1);
      const store = new SqliteLeadStore(db, { handoff });
      await store.migrate();
      const workerStore = new SqliteLeadStore(worker);
      const reads = { delivery: 0, lead: 0 };
      workerStore.getDelivery = async () => ((reads.delivery += 1), null);
      workerStore.getLead = async () => ((reads.lead += 1), null);
      const queue = new SqliteJobQueue(worker, { handoff: new PortHandoffSource(channel.port2), leaseMs: 30_000, pollIntervalMs: 20 });
      cleanups.push(() => queue.stop());
      const jobs: Job[] = [];
      queue.consume(async (job) => {
        jobs.push(job);
        await workerStore.recordAttempt(attemptResult(job.deliveryId, 1, 'delivered'));
      }, { concurrency: 8 });
      // The worker's attach crosses the port before the ingest can hand anything off.
      await waitFor(() => handoff.attached);
      const command = makeIngest(['crm-main', 'crm-backup']);
      await store.ingest(command);
      await waitFor(() => jobs.length === 2);
      expect(jobs.every((j) => j.preloaded?.lead.id === command.lead.id)).toBe(true);
      expect(jobs.map((j) => j.deliveryId).sort()).toEqual(command.deliveries.map((d) => d.id).sort());
      // Finished counts come back over the port; the attempts were written by the worker's connection.
      await waitFor(() => handoff.size === 0);
      const statuses = db.db.prepare('SELECT status, lease_until FROM deliveries WHERE lead_id = ?').all(command.lead.id);
      expect(statuses).toEqual([{ status: 'delivered', lease_until: null }, { status: 'delivered', lease_until: null }]);
      expect(reads).toEqual({ delivery: 0, lead: 0 });
      // Once the worker detached, new deliveries are written unleased and the table's claim takes them.
      await queue.stop();
      await waitFor(() => !handoff.attached);
      const later = makeIngest(['crm-main']);
      await store.ingest(later);
      expect(db.db.prepare('SELECT lease_until FROM deliveries WHERE id = ?').pluck().get(later.deliveries[0]!.id)).toBeNull();
    });
  });

  it('counts handler rejections and reports them to onError', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    const failed = deferred<unknown>();
    const queue = new SqliteJobQueue(db, { onError: (error) => failed.resolve(error) });
    await store.ingest(makeIngest(['crm-main']));
    queue.consume(async () => Promise.reject(new Error('boom')), { concurrency: 1 });
    expect(await failed.promise).toBeInstanceOf(Error);
    await queue.stop();
    expect(queue.errors).toBe(1);
  });

  it('lists deliveries in id (creation) order and rejects a forged cursor', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const command = makeIngest(['crm-main', 'callcenter']);
      await store.ingest(command);
      ids.push(...command.deliveries.map((d) => d.id));
    }
    const first = await store.listDeliveries({ limit: 4 });
    const second = await store.listDeliveries({ limit: 100, cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((d) => d.id)).toEqual([...ids].sort());
    expect(ids).toEqual([...ids].sort()); // UUIDv7: creation order is id order
  });

  it('prunes duplicate fingerprints whose window has ended, in the ingest transactions', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    const count = () => db.db.prepare('SELECT COUNT(*) FROM lead_fingerprints').pluck().get() as number;
    const ingest = (expiresAt: number) => {
      const command = makeIngest(['crm-main']);
      command.fingerprints = { values: [`fp-${command.lead.id}`], expiresAt };
      return store.ingest(command);
    };
    await ingest(Date.now() - 1);
    await ingest(Date.now() + 3_600_000);
    expect(count()).toBe(2);
    // Pruning runs every 256th ingest (256 = PRUNE_EVERY in the store), in bounded batches.
    await Promise.all(Array.from({ length: 253 }, () => store.ingest(makeIngest([]))));
    expect(count()).toBe(2);
    await store.ingest(makeIngest([]));
    expect(count()).toBe(1);
  });

  it('an attempt recorded twice in one batch undoes only itself: the batch around it commits once', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    await store.migrate();
    const first = makeIngest(['crm-main']);
    await store.ingest(first);
    const deliveryId = first.deliveries[0]!.id;
    const others = [makeIngest(['crm-main']), makeIngest(['crm-main'])];
    const commitsBefore = db.commits;
    // One event-loop turn, so one batch: the second recordAttempt throws inside the batch.
    const [a, recorded, again, b] = await Promise.all([
      store.ingest(others[0]!),
      store.recordAttempt(attemptResult(deliveryId, 1, 'delivered')),
      store.recordAttempt(attemptResult(deliveryId, 1, 'delivered')),
      store.ingest(others[1]!),
    ]);
    expect([a.kind, recorded, again, b.kind]).toEqual(['created', true, false, 'created']);
    expect(db.commits - commitsBefore).toBe(1);
    expect(await store.listAttempts(deliveryId)).toHaveLength(1);
    expect(await store.getDelivery(deliveryId)).toMatchObject({ status: 'delivered', attempts: 1 });
    for (const command of others) expect(await store.listDeliveriesOfLead(command.lead.id)).toHaveLength(1);
  });

  it('the store and queue close the shared connection when the last one closes', async () => {
    const { db } = open();
    const store = new SqliteLeadStore(db);
    const queue = new SqliteJobQueue(db);
    await store.migrate();
    await store.close();
    await expect(queue.ping()).resolves.toBeUndefined();
    await queue.close();
    expect(db.isOpen).toBe(false);
    await expect(store.ping()).rejects.toThrow();
  });
});
