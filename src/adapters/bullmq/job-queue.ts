import { DelayedError, Queue, Worker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Job, JobHandler, JobQueue } from '../../ports/job-queue.js';
import {
  closeConnection,
  dropConnection,
  producerConnection,
  QueueUnavailableError,
  withTimeout,
  workerConnection,
  type ConnectionSettings,
  type WorkerRedis,
} from './redis-connection.js';

export { QueueUnavailableError } from './redis-connection.js';

export interface BullmqJobQueueOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  redisUrl: string;
  /** BullMQ queue name. Default `leadgate-deliveries`. */
  queueName?: string;
  /** BullMQ key prefix (namespace in a shared Redis). Default `bull`, BullMQ's own. */
  prefix?: string;
  /** How long a job stays locked by its worker without renewal; a crashed worker's jobs return after it. Default 30 s. */
  lockDurationMs?: number;
  /** How often a worker looks for jobs whose lock expired. Default lockDurationMs. */
  stalledIntervalMs?: number;
  /** First wait after a handler rejection; doubles on each further rejection. Default 1 s. */
  retryBaseMs?: number;
  /** Longest wait after a handler rejection. Default 60 s. */
  retryMaxMs?: number;
  /** ping() and enqueue() reject when Redis has not answered by then. Default 2 s. */
  commandTimeoutMs?: number;
  /** stop(): how long BullMQ may take to record the outcomes once the handlers are done, before its connection is dropped. Default 5 s. */
  closeGraceMs?: number;
  /** Longest pause between two reconnection attempts. Default 2 s. */
  reconnectMaxMs?: number;
  /** Redis connection errors, handler rejections and dropped payloads. Never given personal data by the queue. */
  onError?: (error: unknown) => void;
}

/** Job data in Redis: the delivery id only, so no personal data ever sits in the queue. */
interface Payload {
  deliveryId: string;
}

/** A job whose data is not a Payload (written by something else); it is dropped, not run. */
export class InvalidJobPayloadError extends Error {
  override readonly name = 'InvalidJobPayloadError';
}

const JOB_NAME = 'deliver';
const BACKOFF_TYPE = 'leadgate-capped-exponential';
// The store is the truth: a job BullMQ gives up on is still pending there and the sweeper
// enqueues it again. So BullMQ keeps trying for as long as it reasonably can.
const ATTEMPTS = 1_000;
const MAX_STALLED = 1_000;

/**
 * JobQueue on BullMQ. The job id is the delivery id, so enqueueing a delivery that is already
 * waiting, delayed or running is a no-op; finished jobs are removed at once, so a replay or the
 * sweeper can add the same id again later. Handlers get at-least-once delivery: a worker that
 * dies mid-job loses its lock after lockDurationMs and a live worker's stalled check hands the
 * job on.
 */
export class BullmqJobQueue implements JobQueue {
  /** Handler rejections, dropped payloads and connection errors so far. */
  errors = 0;
  readonly queueName: string;
  private readonly prefix: string | undefined;
  private readonly lockDurationMs: number;
  private readonly stalledIntervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly commandTimeoutMs: number;
  private readonly closeGraceMs: number;
  private readonly settings: ConnectionSettings;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly producer: Redis;
  private readonly queue: Queue<Payload>;
  private workerClient: WorkerRedis | null = null;
  private worker: Worker<Payload> | null = null;
  private closing: Promise<void> | null = null;
  /** Handlers running now, so stop() knows when only BullMQ's own bookkeeping is left. */
  private readonly active = new Set<Promise<unknown>>();

  constructor(options: BullmqJobQueueOptions) {
    this.queueName = options.queueName ?? 'leadgate-deliveries';
    this.prefix = options.prefix;
    this.lockDurationMs = options.lockDurationMs ?? 30_000;
    this.stalledIntervalMs = options.stalledIntervalMs ?? this.lockDurationMs;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
    this.closeGraceMs = options.closeGraceMs ?? 5_000;
    this.onError = options.onError;
    this.settings = {
      url: options.redisUrl,
      reconnectMaxMs: options.reconnectMaxMs ?? 2_000,
      commandTimeoutMs: this.commandTimeoutMs,
      name: `leadgate:${this.queueName}`,
    };
    // The producer connects now (the api pings it for readiness); the worker's connections
    // only once consume() is called, so an api-only process holds one connection.
    this.producer = producerConnection(this.settings);
    this.queue = new Queue<Payload>(this.queueName, {
      connection: this.producer,
      ...(this.prefix !== undefined && { prefix: this.prefix }),
      defaultJobOptions: {
        attempts: ATTEMPTS,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: true,
        // Not a count or age: a failed job kept under its id would make BullMQ ignore the
        // sweeper's re-enqueue of that still-pending delivery. Its story is in the store.
        removeOnFail: true,
      },
    });
    this.queue.on('error', (error) => this.report(error));
  }

  /** Nothing to create: BullMQ makes its keys on first use. Resolves so `leadgate migrate` can treat every queue alike. */
  async migrate(): Promise<void> {}

  /**
   * Adds one job per delivery, due at its runAt. Rejects at once (QueueUnavailableError) when
   * the producer is not connected, and after commandTimeoutMs when Redis does not answer, so
   * the api can answer 503; the deliveries are durable in the store and the sweeper enqueues
   * them later.
   */
  async enqueue(jobs: Job[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.connected();
    const now = Date.now();
    const bulk = jobs.map((job) => ({
      name: JOB_NAME,
      data: { deliveryId: job.deliveryId },
      opts: { jobId: job.deliveryId, delay: Math.max(0, job.runAt - now) },
    }));
    await withTimeout(this.queue.addBulk(bulk), this.commandTimeoutMs, 'enqueue');
  }

  consume(handler: JobHandler, options: { concurrency: number }): void {
    if (this.closing) throw new Error('BullmqJobQueue is closed');
    if (this.worker && !this.worker.closing) throw new Error('BullmqJobQueue is already consuming');
    this.workerClient ??= workerConnection(this.settings);
    const worker = new Worker<Payload>(this.queueName, (job, token) => this.process(handler, job, token), {
      connection: this.workerClient,
      ...(this.prefix !== undefined && { prefix: this.prefix }),
      concurrency: Math.max(1, Math.floor(options.concurrency)),
      lockDuration: this.lockDurationMs,
      stalledInterval: this.stalledIntervalMs,
      maxStalledCount: MAX_STALLED,
      // After a connection error BullMQ waits this long before fetching again (default 15 s, not
      // interruptible by close()); ioredis reconnects within reconnectMaxMs, so wait no longer.
      runRetryDelay: this.settings.reconnectMaxMs,
      settings: { backoffStrategy: (attemptsMade) => this.backoff(attemptsMade) },
    });
    worker.on('error', (error) => this.report(error));
    this.worker = worker;
  }

  /**
   * Stops fetching and waits for running handlers; BullMQ then records their outcomes and
   * releases their locks. While Redis is down BullMQ's worker commands wait for it for ever
   * (maxRetriesPerRequest: null), so once the handlers are done it gets closeGraceMs, after
   * which the worker connection is dropped: the outcomes are in the store, and unreleased
   * locks just expire.
   */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const closed = worker.close().then(() => 'closed' as const);
    const grace = this.handlersSettled().then(() => this.timer(this.closeGraceMs));
    if ((await Promise.race([closed, grace])) === 'closed') return;
    // Pending commands (also on BullMQ's blocking copy) fail with "Connection is closed",
    // which ends BullMQ's loops and lets its close finish.
    this.workerClient?.dropAll();
    this.workerClient = null; // a later consume() opens a fresh one
    if ((await Promise.race([closed, this.timer(this.closeGraceMs)])) === 'late') {
      // Nothing of it can reach Redis any more; leave it to the garbage collector.
      this.report(new Error(`BullMQ worker of ${this.queueName} did not close; abandoned`));
    }
  }

  /** Resolves 'late' after ms, without keeping the process alive. */
  private timer(ms: number): Promise<'late'> {
    return new Promise((resolve) => setTimeout(() => resolve('late'), ms).unref());
  }

  async depth(): Promise<number> {
    await this.connected();
    const counts = await withTimeout(this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized'), this.commandTimeoutMs, 'depth');
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  /** PING on the producer connection; rejects at once while disconnected, never hangs. */
  async ping(): Promise<void> {
    await this.connected();
    await withTimeout(this.producer.ping(), this.commandTimeoutMs, 'PING');
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.stop();
      await this.queue.close().catch((error: unknown) => this.report(error));
      await closeConnection(this.producer, this.commandTimeoutMs);
      if (this.workerClient) await closeConnection(this.workerClient, this.commandTimeoutMs);
    })();
    await this.closing;
  }

  /**
   * Drops every connection at once, as a killed process would: no lock renewal, no lock
   * release, running handlers' outcomes are lost. Their jobs return to another worker once
   * their lock expired. For tests that simulate a crash; nothing in production calls it.
   */
  async disconnectAbruptly(): Promise<void> {
    const worker = this.worker;
    this.workerClient?.dropAll();
    this.workerClient = null;
    dropConnection(this.producer);
    // force: skip waiting for running handlers; it stops lock renewal and drops the blocking connection.
    await worker?.close(true);
  }

  private async process(handler: JobHandler, job: BullJob<Payload>, token: string | undefined): Promise<void> {
    const data: unknown = job.data;
    const deliveryId = (data as Partial<Payload> | null)?.deliveryId;
    if (typeof deliveryId !== 'string' || deliveryId.length === 0) {
      // Completing the job removes it; retrying could never make it valid. Only the job id is named.
      this.report(new InvalidJobPayloadError(`job ${job.id ?? '?'} in ${this.queueName} has no deliveryId: dropped`));
      return;
    }
    let result: { retryAt: number } | void;
    // BullMQ keeps no due time across moveToDelayed; when it started the job is the closest
    // honest "not before", and the handler reloads the delivery anyway.
    const runAt = job.processedOn ?? Date.now();
    // Through a promise, so a handler that throws synchronously is treated like a rejection.
    const running = Promise.resolve().then(() => handler({ deliveryId, runAt }));
    this.active.add(running);
    try {
      result = await running;
    } catch (error) {
      // The handler could not decide: BullMQ runs the job again after the backoff.
      this.report(error);
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      this.active.delete(running);
    }
    if (result) {
      // Still pending: park the job until retryAt under the same id, then tell BullMQ the job
      // moved on its own (DelayedError is its signal for "neither completed nor failed").
      await job.moveToDelayed(Math.max(result.retryAt, Date.now()), token);
      throw new DelayedError();
    }
  }

  private async handlersSettled(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** Exponential from retryBaseMs, capped at retryMaxMs, with jitter so a burst of failures spreads out. */
  private backoff(attemptsMade: number): number {
    const exponential = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(Math.max(0, attemptsMade - 1), 30));
    return Math.round(exponential * (0.8 + Math.random() * 0.2));
  }

  /**
   * Resolves when the producer can take a command. A connection attempt under way (the first
   * one, or a reconnection that is dialling) is awaited up to commandTimeoutMs, so a request
   * right after start-up is not refused; between attempts (Redis known to be down) it rejects
   * at once.
   */
  private async connected(): Promise<void> {
    if (this.closing) throw new QueueUnavailableError('redis: queue is closed');
    const client = this.producer;
    const status = client.status;
    if (status === 'ready') return;
    if (status !== 'connecting' && status !== 'connect' && status !== 'wait') {
      throw new QueueUnavailableError(`redis: not connected (${status})`);
    }
    let settle: (error?: Error) => void = () => {};
    const attempt = new Promise<void>((resolve, reject) => {
      const onReady = (): void => settle();
      const onClose = (): void => settle(new QueueUnavailableError('redis: connection failed'));
      settle = (error) => {
        client.off('ready', onReady);
        client.off('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      client.once('ready', onReady);
      client.once('close', onClose);
    });
    try {
      await withTimeout(attempt, this.commandTimeoutMs, 'connect');
    } finally {
      settle(); // drop the listeners if the timeout won
    }
  }

  /** Counts an error and passes it on; a throwing onError must not break BullMQ's loops. */
  private report(error: unknown): void {
    this.errors += 1;
    try {
      this.onError?.(error);
    } catch {
      // Nothing sensible to do: the count above still records it.
    }
  }
}
