import type { Logger } from '../observability/logger.js';
import { errorSummary } from '../observability/error-summary.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';

export interface SweeperOptions {
  store: LeadStore;
  queue: JobQueue;
  logger: Logger;
  /** How often to look. */
  intervalMs?: number;
  /**
   * How overdue a pending delivery must be before it counts as lost by the queue. Generous, so
   * a healthy backlog is not re-announced; BullMQ drops duplicates by job id anyway.
   */
  graceMs?: number;
  /** Deliveries re-announced per sweep at most. */
  batchSize?: number;
  now?: () => number;
}

export interface Sweeper {
  start(): void;
  /** One pass; resolves with how many deliveries it re-announced. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * On backends where persisting and enqueueing are two steps (DynamoDB + BullMQ or SQS), a
 * crash between them, a failed enqueue or a queue that lost data would leave a delivery
 * pending with no job. The sweeper finds pending deliveries that are overdue and announces
 * them again, so the queue is never the only place a lead lives. It is safe to run in every
 * worker: a duplicate job finds the delivery finished, or is dropped by job id.
 */
export function createSweeper(options: SweeperOptions): Sweeper {
  const { store, queue, logger } = options;
  const intervalMs = options.intervalMs ?? 30_000;
  const graceMs = options.graceMs ?? 60_000;
  const batchSize = options.batchSize ?? 500;
  const now = options.now ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  async function sweepOnce(): Promise<number> {
    const overdue = await store.findDue(now() - graceMs, batchSize);
    if (overdue.length === 0) return 0;
    await queue.enqueue(overdue.map((d) => ({ deliveryId: d.id, runAt: d.nextAttemptAt ?? now() })));
    logger.info({ count: overdue.length }, 'sweeper re-announced overdue deliveries');
    return overdue.length;
  }

  const sweep = (): Promise<number> => {
    // One pass at a time: a slow store must not pile sweeps up.
    running ??= sweepOnce().finally(() => (running = null));
    return running;
  };

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => {
        sweep().catch((err: unknown) => logger.warn({ err: errorSummary(err) }, 'sweep failed, will try again'));
      }, intervalMs);
      timer.unref();
    },
    sweep,
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
