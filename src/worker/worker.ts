import type { JobQueue } from '../ports/job-queue.js';
import { createDeliveryHandler, type DeliveryHandlerDeps } from './delivery-handler.js';

export interface WorkerDeps extends DeliveryHandlerDeps {
  queue: JobQueue;
  /** Deliveries in flight at once in this process. */
  concurrency: number;
}

export interface Worker {
  /** Start consuming; a second call does nothing. */
  start(): void;
  /** Stop taking jobs and wait for the running deliveries (the queue releases what it held). */
  stop(): Promise<void>;
}

export function createWorker(deps: WorkerDeps): Worker {
  const handler = createDeliveryHandler(deps);
  let started = false;
  let stopping: Promise<void> | null = null;
  return {
    start() {
      if (started) return;
      started = true;
      deps.queue.consume(handler, { concurrency: deps.concurrency });
    },
    stop() {
      if (!started) return Promise.resolve();
      stopping ??= deps.queue.stop();
      return stopping;
    },
  };
}
