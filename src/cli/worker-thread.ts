import { once } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { linkHandoffToPort } from '../adapters/sqlite/handoff-port.js';
import type { SqliteHandoff } from '../adapters/sqlite/handoff.js';
import type { Logger } from '../observability/logger.js';
import { errorSummary } from '../observability/error-summary.js';
import type { BreakerState } from '../worker/circuit-breakers.js';

/** What `leadgate serve` asks of its worker, wherever it runs (this thread or its own). */
export interface ServeWorker {
  /** The breaker state of a destination in this process, for the admin views. */
  breakerState(destinationId: string): BreakerState;
  /** A privacy erasure was requested: run it now rather than at the next look. */
  wakeErasures(): void;
  start(): void;
  /** Stops taking deliveries and waits for those in flight. */
  stop(): Promise<void>;
  /** The worker's metrics when they live in another registry than the api's (the thread's). */
  metrics?(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
}

export type ToThread = { type: 'start' } | { type: 'stop' } | { type: 'wake-erasures' } | { type: 'metrics'; id: number };
export type FromThread =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'breaker'; destination: string; state: BreakerState }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };

/** What the thread is given (worker-thread-entry.ts); the environment is the process's own. */
export interface WorkerThreadData {
  demo: boolean;
  /** The hand-off port (SQLite only): deliveries committed by the api thread's ingest. */
  handoffPort: MessagePort | null;
}

/**
 * `leadgate serve` runs its worker on a worker thread: the api's ingest and the deliveries then
 * use the machine's two cores instead of sharing one event loop (issue 13). The thread runs the
 * same worker runtime as `leadgate worker` on its own connections (its own SQLite connection on
 * the same file, WAL); the api's ingest hands new deliveries over a MessagePort
 * (handoff-port.ts); breaker states come back as messages and the worker's metrics are merged
 * into the ops listener's /metrics at each scrape. Durability is unchanged: the thread only
 * ever works on committed rows, and dies with the process (kill -9), leaving leases to expire.
 * A thread that fails ends the process (exit 1): a supervisor restarts it whole.
 */
export async function startWorkerThread(options: {
  demo: boolean;
  handoff: SqliteHandoff | null;
  logger: Logger;
  /** The thread's module; tests give their own. */
  entry?: URL;
  /** What a failure after start does; tests observe it instead of exiting. */
  onFatal?: () => void;
}): Promise<ServeWorker> {
  const { logger } = options;
  const onFatal = options.onFatal ?? (() => process.exit(1));
  const channel = options.handoff ? new MessageChannel() : null;
  if (channel && options.handoff) linkHandoffToPort(options.handoff, channel.port1);
  const data: WorkerThreadData = { demo: options.demo, handoffPort: channel?.port2 ?? null };
  const thread = new Worker(options.entry ?? new URL('./worker-thread-entry.js', import.meta.url), {
    workerData: data,
    transferList: channel ? [channel.port2] : [],
  });
  const breakers = new Map<string, BreakerState>();
  const metricRequests = new Map<number, (metrics: MetricObjectWithValues<MetricValue<string>>[]) => void>();
  let nextMetricsId = 0;
  let stopping = false;
  let started = false;
  // Stopped once it says so, or once it is gone (a thread that died while stopping has nothing left to wait for).
  const stopped = new Promise<void>((resolve) => {
    thread.on('message', (message: FromThread) => {
      if (message.type === 'breaker') breakers.set(message.destination, message.state);
      else if (message.type === 'metrics') {
        metricRequests.get(message.id)?.(message.metrics);
        metricRequests.delete(message.id);
      } else if (message.type === 'stopped') resolve();
    });
    thread.once('exit', () => resolve());
  });
  const ready = once(thread, 'message').then(([message]: FromThread[]) => {
    if (message?.type !== 'ready') throw new Error(`worker thread: unexpected first message ${message?.type}`);
  });
  // Before it is ready, a failure rejects the start (runServer reports it and exits); after, it ends the process.
  const failed = new Promise<never>((_resolve, reject) => {
    thread.once('error', (error) => {
      if (!started) return reject(error);
      logger.fatal({ err: errorSummary(error) }, 'worker thread failed; exiting');
      onFatal();
    });
    thread.once('exit', (code) => {
      if (stopping) return;
      if (!started) return reject(new Error(`worker thread exited (${code}) before it was ready`));
      logger.fatal({ code }, 'worker thread exited; exiting');
      onFatal();
    });
  });
  await Promise.race([ready, failed]);
  started = true;
  const post = (message: ToThread) => thread.postMessage(message);

  return {
    breakerState: (destinationId) => breakers.get(destinationId) ?? 'closed',
    wakeErasures: () => post({ type: 'wake-erasures' }),
    start: () => post({ type: 'start' }),
    async stop() {
      stopping = true;
      post({ type: 'stop' });
      await stopped;
      // The thread closed its connections before answering: nothing of SQLite is running now.
      await thread.terminate();
      channel?.port1.close();
    },
    metrics() {
      if (stopping) return Promise.resolve([]);
      const id = nextMetricsId++;
      return new Promise((resolve) => {
        // A scrape must answer even if the thread is busy past reason: without its figures then.
        const timer = setTimeout(() => {
          metricRequests.delete(id);
          resolve([]);
        }, 2_000);
        metricRequests.set(id, (metrics) => {
          clearTimeout(timer);
          resolve(metrics);
        });
        post({ type: 'metrics', id });
      });
    },
  };
}
