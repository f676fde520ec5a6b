import type { Delivery } from '../domain/delivery.js';
import type { StoredLead } from '../domain/lead.js';

/**
 * What to do next. The store is the truth; a job only names a delivery, and the handler
 * reloads it, so a job run twice or after its delivery finished is harmless.
 * Every adapter passes test/contract/job-queue.contract.ts.
 */
export interface JobQueue {
  /** Create queues or tables; idempotent. */
  migrate(): Promise<void>;

  /** Announce deliveries that are already durable in the store. Duplicates are fine. */
  enqueue(jobs: Job[]): Promise<void>;

  /** Start handing jobs to `handler`, at most `concurrency` at once. */
  consume(handler: JobHandler, options: { concurrency: number }): void;

  /** Stop taking jobs, wait for running handlers, release what they held. */
  stop(): Promise<void>;

  /** Throws when the queue cannot be reached. */
  ping(): Promise<void>;

  /** Jobs the queue holds (waiting, delayed or running), for the queue-depth metric. */
  depth(): Promise<number>;
  close(): Promise<void>;
}

export interface Job {
  deliveryId: string;
  /** Epoch ms: not before. */
  runAt: number;
  /**
   * The delivery and its lead as they stand under this job's lease, when the queue already has
   * them: handed over by the store's ingest (`leadgate serve`), or read by the claim itself (the
   * embedded SQLite queue). The handler uses them instead of reading the store.
   */
  preloaded?: { delivery: Delivery; lead: StoredLead };
}

/**
 * Called once per job. Resolving with `retryAt` means the delivery is still pending and
 * is due again then; resolving without it means the job is finished. A rejection means
 * the handler could not decide (e.g. the store was unreachable): the queue runs the job
 * again later.
 */
export type JobHandler = (job: Job) => Promise<{ retryAt: number } | void>;
