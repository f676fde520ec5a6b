import type { Job, JobHandler, JobQueue } from '../../ports/job-queue.js';
import type { SqliteDatabase } from './database.js';
import type { HandedOff, HandoffSource } from './handoff.js';
import { toDelivery, toLead, type DeliveryRow, type LeadRow } from './rows.js';

export interface SqliteJobQueueOptions {
  /** How long a claimed delivery stays hidden from other workers; a crashed worker's jobs return after it. */
  leaseMs?: number;
  /** Longest wait between two looks at the table, so writes by other processes are noticed. */
  pollIntervalMs?: number;
  /** Most deliveries claimed by one statement. */
  batchSize?: number;
  now?: () => number;
  /** Called when a handler rejects (the job comes back once its lease expired). Never given personal data by the queue. */
  onError?: (error: unknown) => void;
  /** Deliveries handed over by the store's ingest in this process while consuming (see handoff.ts). */
  handoff?: HandoffSource;
}

// The claim takes due, unleased deliveries oldest first and leases them in one statement, so two
// workers (even in two processes) never claim the same row while a lease holds. It returns the
// whole rows, and LEADS_OF reads their leads in one statement, so each job starts with both
// rather than reading them one by one (issue 13: two reads per delivery were ~11 % of a worker).
const CLAIM = `UPDATE deliveries SET lease_until = ? WHERE id IN (
    SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
      AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?)
  RETURNING *`;
const LEADS_OF = 'SELECT id, data FROM leads WHERE id IN (SELECT value FROM json_each(?))';
// The same rows as CLAIM, read only: most wake-ups find nothing, and a read costs no transaction.
const ANY_CLAIMABLE = `SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
  AND (lease_until IS NULL OR lease_until <= ?) LIMIT 1`;
const LEASE_OF = 'SELECT lease_until FROM deliveries WHERE id = ?';
// Only touches the row if this worker's lease still holds it (the lease value is the token).
const SET_LEASE = 'UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_until = ?';
const NEXT_DUE = `SELECT next_attempt_at FROM deliveries WHERE status = 'pending' AND next_attempt_at > ?
  ORDER BY next_attempt_at LIMIT 1`;

interface Claimed {
  job: Job;
  lease: number;
  /** Came through the hand-off rather than a claim of the table. */
  handedOff?: boolean;
}

/**
 * JobQueue on the deliveries table: the store's ingest writes a lead and its deliveries in one
 * transaction, so the table itself is the queue and nothing can be "stored but not queued".
 * `enqueue` only wakes the local consumer; other processes' writes are seen within pollIntervalMs.
 */
export class SqliteJobQueue implements JobQueue {
  /** Handler rejections and failed claims so far. */
  errors = 0;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly release: () => Promise<void>;
  private readonly handoff: HandoffSource | undefined;
  /** Handed-off deliveries waiting for a free slot, oldest first. */
  private handed: HandedOff[] = [];
  private handedHead = 0;

  private handler: JobHandler | null = null;
  private concurrency = 1;
  private running = false;
  private active = new Set<Promise<void>>();
  private claiming: Promise<void> | null = null;
  private wakeAgain = false;
  private wakeScheduled = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly database: SqliteDatabase,
    options: SqliteJobQueueOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.batchSize = options.batchSize ?? 100;
    this.now = options.now ?? Date.now;
    this.onError = options.onError;
    this.handoff = options.handoff;
    this.release = database.acquire();
  }

  /**
   * The queue is the store's deliveries table, created by the store's migration; running the
   * same idempotent migration here lets the queue be migrated on its own too.
   */
  async migrate(): Promise<void> {
    this.database.migrate();
  }

  /** The deliveries are already in the table: wake the consumer now rather than at the next poll. */
  async enqueue(_jobs: Job[]): Promise<void> {
    this.wake();
  }

  consume(handler: JobHandler, options: { concurrency: number }): void {
    if (this.running) throw new Error('SqliteJobQueue is already consuming');
    this.handler = handler;
    this.concurrency = Math.max(1, Math.floor(options.concurrency));
    this.running = true;
    this.handoff?.attach((items) => this.receive(items), this.leaseMs);
    this.wake();
  }

  /** Stops claiming, waits for running handlers; a claim that lands after stop is released unstarted. */
  async stop(): Promise<void> {
    this.running = false;
    this.handoff?.detach();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Handed off but not started: give them back to the table now rather than at lease expiry.
    const unstarted = this.takeHanded(Infinity);
    if (unstarted.length > 0) {
      this.handoff?.finished(unstarted.length);
      await Promise.all(unstarted.map((c) => this.setLease(c, null).catch((error: unknown) => this.report(error))));
    }
    while (this.claiming || this.active.size > 0) {
      await Promise.all([this.claiming, ...this.active]);
    }
  }

  /** The deliveries table is the queue: every pending delivery is a job. */
  async depth(): Promise<number> {
    return (this.database.statement("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'").get() as { n: number }).n;
  }

  async ping(): Promise<void> {
    this.database.statement('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.stop();
    await this.release();
  }

  /** Coalesces wake-ups (enqueue, a freed slot, the timer) into one claim per turn. */
  private wake(): void {
    if (!this.running) return;
    if (this.claiming) {
      this.wakeAgain = true;
      return;
    }
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.claim();
    });
  }

  /** From the store's ingest, after COMMIT: run at once where a slot is free, else wait in line. */
  private receive(items: HandedOff[]): void {
    for (const item of items) this.handed.push(item);
    this.startHanded();
  }

  /**
   * Starts waiting handed-off deliveries in the free slots. While the table has claimable work
   * (`tableWaiting`), an eighth of the slots stays for its claims, so retries and backlog are not
   * starved by a steady flow of new leads; otherwise every slot may take them.
   */
  private startHanded(tableWaiting = true): void {
    if (!this.running) return;
    const cap = tableWaiting ? this.concurrency - Math.floor(this.concurrency / 8) : this.concurrency;
    const free = Math.max(0, cap - this.active.size);
    for (const claimed of this.takeHanded(free)) this.run(claimed);
  }

  /** Up to `n` waiting handed-off deliveries; one whose lease ran out is left to the table's claim. */
  private takeHanded(n: number): Claimed[] {
    const out: Claimed[] = [];
    const now = this.now();
    while (out.length < n && this.handedHead < this.handed.length) {
      const item = this.handed[this.handedHead]!;
      this.handedHead += 1;
      if (item.lease <= now) {
        this.handoff?.finished(1);
        continue;
      }
      out.push({
        job: { deliveryId: item.delivery.id, runAt: item.delivery.nextAttemptAt ?? now, preloaded: { delivery: item.delivery, lead: item.lead } },
        lease: item.lease,
        handedOff: true,
      });
    }
    if (this.handedHead === this.handed.length) {
      this.handed = [];
      this.handedHead = 0;
    } else if (this.handedHead > 1024) {
      // A line that never empties (a steady flow) must not keep every item it ever held.
      this.handed = this.handed.slice(this.handedHead);
      this.handedHead = 0;
    }
    return out;
  }

  private claim(): void {
    if (!this.running || this.claiming) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.startHanded();
    const free = Math.min(this.concurrency - this.active.size, this.batchSize);
    if (free <= 0) return; // a handler finishing wakes us
    this.wakeAgain = false;
    const now = this.now();
    const lease = now + this.leaseMs;
    let claimable = true;
    try {
      claimable = this.database.statement(ANY_CLAIMABLE).get(now, now) !== undefined;
    } catch {
      // Unreadable: let the claim's write report it.
    }
    if (!claimable) {
      this.startHanded(false);
      this.scheduleTimer(false);
      return;
    }
    const claimed = this.database
      .write(() => {
        const rows = this.database.statement(CLAIM).all(lease, now, now, free) as DeliveryRow[];
        if (rows.length === 0) return { rows, leads: new Map<string, LeadRow & { id: string }>() };
        const leads = this.database.statement(LEADS_OF).all(JSON.stringify([...new Set(rows.map((r) => r.lead_id))])) as Array<LeadRow & { id: string }>;
        return { rows, leads: new Map(leads.map((l) => [l.id, l])) };
      })
      .then(
        ({ rows, leads }) =>
          this.started(
            rows.map((row) => {
              const lead = leads.get(row.lead_id);
              // No lead (never expected): the handler reads the store and records why it cannot send.
              const preloaded = lead ? { delivery: toDelivery(row), lead: toLead(lead) } : undefined;
              return { job: { deliveryId: row.id, runAt: row.next_attempt_at ?? now, preloaded }, lease };
            }),
            rows.length === free,
          ),
        (error: unknown) => this.failed(error),
      );
    this.claiming = claimed.finally(() => {
      this.claiming = null;
      if (this.wakeAgain) this.wake();
    });
  }

  /** `full`: the claim took as many as it asked for, so more may be due right now. */
  private async started(claimed: Claimed[], full: boolean): Promise<void> {
    if (!this.running) {
      // Stopped while claiming: give them straight back rather than leave them leased.
      await Promise.all(claimed.map((c) => this.setLease(c, null)));
      return;
    }
    for (const c of claimed) this.run(c);
    this.scheduleTimer(full);
  }

  private failed(error: unknown): void {
    this.report(error);
    if (!this.database.isOpen) this.running = false; // closed under us: nothing left to poll
    this.scheduleTimer(false);
  }

  /** Polls at the next due time of a pending delivery, or pollIntervalMs, whichever comes first. */
  private scheduleTimer(moreDue: boolean): void {
    if (!this.running || this.timer) return;
    if (this.active.size >= this.concurrency) return; // a freed slot wakes us
    let delay = this.pollIntervalMs;
    if (!moreDue) {
      try {
        const now = this.now();
        const next = this.database.statement(NEXT_DUE).get(now) as { next_attempt_at: number } | undefined;
        if (next) delay = Math.min(delay, Math.max(0, next.next_attempt_at - now));
      } catch {
        // Database closed or unreadable: keep polling at the interval.
      }
    } else {
      delay = 0; // batchSize capped the claim: take the rest at once
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, delay);
  }

  private run(claimed: Claimed): void {
    const handler = this.handler!;
    const task = Promise.resolve()
      .then(() => handler(claimed.job))
      .then(
        // `retryAt` without an attempt recorded (the store would have cleared our lease) still
        // means "not before then": keep the row leased until retryAt.
        (result) => this.setLease(claimed, result && result.retryAt > this.now() ? result.retryAt : null),
        // The handler could not decide: leave the lease to expire, then the job runs again.
        (error: unknown) => this.report(error),
      )
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.active.delete(task);
        if (claimed.handedOff) this.handoff?.finished(1);
        // A freed slot goes to a waiting handed-off delivery at once; the claim wakes up too.
        if (this.handedHead < this.handed.length) this.startHanded();
        this.wake();
      });
    this.active.add(task);
  }

  /** Counts an error and passes it on; a throwing onError must not break the loop. */
  private report(error: unknown): void {
    this.errors += 1;
    try {
      this.onError?.(error);
    } catch {
      // Nothing sensible to do: the count above still records it.
    }
  }

  /** Sets or clears the lease only if this worker still holds it; a read first avoids most writes. */
  private async setLease(claimed: Claimed, leaseUntil: number | null): Promise<void> {
    const row = this.database.statement(LEASE_OF).get(claimed.job.deliveryId) as
      | { lease_until: number | null }
      | undefined;
    if (!row || row.lease_until !== claimed.lease) return;
    await this.database.write(() =>
      this.database.statement(SET_LEASE).run(leaseUntil, claimed.job.deliveryId, claimed.lease),
    );
  }
}
