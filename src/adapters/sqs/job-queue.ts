import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Job, JobHandler, JobQueue } from '../../ports/job-queue.js';
import { SqsDeleteBatcher } from './deletes.js';
import { migrateSqsQueue, type SqsDlqOptions } from './migrate.js';
import {
  MAX_DELAY_SEC,
  chunks,
  enqueueFailure,
  parseJob,
  receiveCount,
  RUN_AT_ATTRIBUTE,
  toEntry,
  visibilityUntil,
} from './messages.js';

export interface SqsJobQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** How long a received message stays hidden while no heartbeat renews it; a dead worker's jobs return after it. */
  visibilityTimeoutSec?: number;
  /** Long-poll wait of one ReceiveMessage (0-20). */
  waitTimeSeconds?: number;
  /** Visibility after a handler rejection, times the receive count, capped by maxErrorBackoffSec. */
  errorBackoffSec?: number;
  maxErrorBackoffSec?: number;
  /** ping() rejects when the queue has not answered by then. */
  pingTimeoutMs?: number;
  /** Used by migrate() only; production queues and their redrive policy come from CloudFormation. */
  dlq?: SqsDlqOptions;
  /** Handler rejections, invalid messages, failed SQS calls. Never given a message body. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

// Receive errors back off from the first to the last, doubling: never a tight loop while SQS is away.
const POLL_BACKOFF_MIN_MS = 200;
const POLL_BACKOFF_MAX_MS = 10_000;

/**
 * JobQueue on an SQS standard queue. A message names a delivery (`{"deliveryId"}`; the due time
 * rides in a message attribute) and the store stays the truth, so SQS's at-least-once delivery
 * and a lost message are both harmless: the handler ignores finished deliveries and the sweeper
 * re-enqueues due ones. A job handed back with `retryAt` within SQS's 15 min delay (a held
 * delivery: paused destination, open breaker, limits; or a first retry) goes out again as a new
 * delayed message and the received one is deleted, so holding a delivery never adds to its
 * receive count and never walks it towards the DLQ. A later `retryAt` (the schedule's long
 * delays: a few per delivery) reuses the message: its visibility is set to the retry time.
 * Visibility cannot reach past 12 h after a receive, so a later due time deletes the message
 * and leaves the delivery to the sweeper (the default schedule's longest delay is 10 h).
 */
export class SqsJobQueue implements JobQueue {
  /** Errors reported so far. */
  errors = 0;
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly visibilityTimeoutSec: number;
  private readonly waitTimeSeconds: number;
  private readonly errorBackoffSec: number;
  private readonly maxErrorBackoffSec: number;
  private readonly pingTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly dlq: SqsDlqOptions;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly now: () => number;
  private readonly deletes: SqsDeleteBatcher;

  private handler: JobHandler | null = null;
  private concurrency = 1;
  private running = false;
  private polling: Promise<void> | null = null;
  private receiving: AbortController | null = null;
  private wakeUp: (() => void) | null = null;
  private waitingForSlot = false;
  private readonly active = new Set<Promise<void>>();

  constructor(options: SqsJobQueueOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.visibilityTimeoutSec = Math.max(1, Math.ceil(options.visibilityTimeoutSec ?? 30));
    this.waitTimeSeconds = Math.min(20, Math.max(0, Math.round(options.waitTimeSeconds ?? 20)));
    this.errorBackoffSec = options.errorBackoffSec ?? 5;
    this.maxErrorBackoffSec = options.maxErrorBackoffSec ?? 300;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
    // Three renewals per visibility window, so one slow or lost request does not expose the message.
    this.heartbeatMs = Math.max(100, (this.visibilityTimeoutSec * 1000) / 3);
    this.dlq = options.dlq ?? {};
    this.onError = options.onError;
    this.now = options.now ?? Date.now;
    this.deletes = new SqsDeleteBatcher(this.client, this.queueUrl);
  }

  /** Creates the queue and a DLQ with a redrive policy when missing; see migrateSqsQueue. */
  async migrate(): Promise<void> {
    await migrateSqsQueue(this.client, this.queueUrl, this.dlq);
  }

  /**
   * Sends every job, 10 per SendMessageBatch. Any job SQS did not take makes this reject (after
   * the other chunks were tried), so the caller logs it; the sweeper re-enqueues the delivery.
   */
  async enqueue(jobs: Job[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = this.now();
    const batches = chunks(jobs, 10);
    const results = await Promise.allSettled(
      batches.map((batch) =>
        this.client.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch.map((job, i) => toEntry(job, i, now)) }),
        ),
      ),
    );
    const failure = enqueueFailure(results, batches, jobs.length);
    if (failure) throw failure;
  }

  consume(handler: JobHandler, options: { concurrency: number }): void {
    if (this.running || this.polling) throw new Error('SqsJobQueue is already consuming');
    this.handler = handler;
    this.concurrency = Math.max(1, Math.floor(options.concurrency));
    this.running = true;
    this.polling = this.poll();
  }

  /** Aborts the long poll, waits for running handlers and their deletes or visibility changes. */
  async stop(): Promise<void> {
    this.running = false;
    this.receiving?.abort();
    this.wakeUp?.();
    await this.polling;
    this.polling = null;
    while (this.active.size > 0) await Promise.all(this.active);
  }

  /** SQS's approximate counts: visible, in flight and delayed messages. */
  async depth(): Promise<number> {
    const names = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
    const { Attributes } = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: [...names] }), {
      abortSignal: AbortSignal.timeout(this.pingTimeoutMs),
    });
    return names.reduce((sum, name) => sum + Number(Attributes?.[name] ?? 0), 0);
  }

  async ping(): Promise<void> {
    await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['QueueArn'] }), {
      abortSignal: AbortSignal.timeout(this.pingTimeoutMs),
    });
  }

  async close(): Promise<void> {
    await this.stop();
    this.client.destroy();
  }

  private async poll(): Promise<void> {
    let failures = 0;
    while (this.running) {
      const free = this.concurrency - this.active.size;
      if (free <= 0) {
        await this.idle(); // a finishing handler or stop() wakes us
        continue;
      }
      // The 12 h visibility ceiling counts from the receive request, so note the time before it.
      const receivedAt = this.now();
      let messages: Message[];
      try {
        messages = await this.receive(Math.min(10, free));
        failures = 0;
      } catch (error) {
        if (!this.running) return; // stop() aborted the long poll
        failures += 1;
        this.report(new Error('sqs: receive failed', { cause: error }));
        await this.idle(Math.min(POLL_BACKOFF_MAX_MS, POLL_BACKOFF_MIN_MS * 2 ** (failures - 1)));
        continue;
      }
      if (!this.running) {
        // The receive won the race against stop(): hand the messages straight back.
        this.track(this.release(messages));
        return;
      }
      for (const message of messages) this.start(message, receivedAt);
    }
  }

  private async receive(max: number): Promise<Message[]> {
    this.receiving = new AbortController();
    try {
      const out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: this.waitTimeSeconds,
          VisibilityTimeout: this.visibilityTimeoutSec,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          MessageAttributeNames: [RUN_AT_ATTRIBUTE],
        }),
        { abortSignal: this.receiving.signal },
      );
      return out.Messages ?? [];
    } finally {
      this.receiving = null;
    }
  }

  /**
   * Without `ms`: until a handler finishes. With it (a backoff): until `ms` passed, so finishing
   * handlers cannot shorten it. stop() ends either at once.
   */
  private idle(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : setTimeout(() => this.wakeUp?.(), ms);
      this.waitingForSlot = ms === undefined;
      this.wakeUp = () => {
        if (timer) clearTimeout(timer);
        this.wakeUp = null;
        this.waitingForSlot = false;
        resolve();
      };
    });
  }

  private track(task: Promise<void>): void {
    const tracked = task
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.active.delete(tracked);
        if (this.waitingForSlot) this.wakeUp?.();
      });
    this.active.add(tracked);
  }

  private start(message: Message, receivedAt: number): void {
    const handle = message.ReceiptHandle;
    if (!handle) return; // SQS always sends one; without it there is nothing to delete or extend
    const now = this.now();
    const job = parseJob(message, now);
    if (!job) {
      this.track(this.discard(message, handle));
    } else if (job.runAt > now) {
      // Sent with SQS's 15 min maximum delay but due later: hide it until due, without a handler.
      this.track(this.hideUntil(handle, job.runAt, receivedAt));
    } else {
      this.track(this.run(job, message, handle, receivedAt));
    }
  }

  private async run(job: Job, message: Message, handle: string, receivedAt: number): Promise<void> {
    const stopHeartbeat = this.heartbeat(handle);
    let outcome: { retryAt: number } | void;
    try {
      outcome = await this.handler!(job);
    } catch (error) {
      await stopHeartbeat();
      this.report(error);
      // The handler could not decide: retry soon, later on each new failure.
      const seconds = Math.min(this.maxErrorBackoffSec, this.errorBackoffSec * receiveCount(message));
      return this.setVisibility(handle, Math.ceil(seconds));
    }
    // A renewal landing after the final change would undo it: let it finish first.
    await stopHeartbeat();
    if (outcome) return this.handBack(job, handle, outcome.retryAt, receivedAt);
    return this.remove(handle);
  }

  /**
   * Due within the 15 min delay: a new delayed message, then the old one deleted (a failed
   * delete leaves a duplicate, which the handler finds finished or not yet due). A failed send
   * keeps the old message and hides it until then instead.
   */
  private async handBack(job: Job, handle: string, retryAt: number, receivedAt: number): Promise<void> {
    const now = this.now();
    if (retryAt - now > MAX_DELAY_SEC * 1000) return this.hideUntil(handle, retryAt, receivedAt);
    try {
      const entry = toEntry({ deliveryId: job.deliveryId, runAt: retryAt }, 0, now);
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: entry.MessageBody,
          DelaySeconds: entry.DelaySeconds,
          MessageAttributes: entry.MessageAttributes,
        }),
      );
    } catch (error) {
      this.report(new Error('sqs: re-send failed, hiding the message instead', { cause: error }));
      return this.hideUntil(handle, retryAt, receivedAt);
    }
    return this.remove(handle);
  }

  /** Renews the message's visibility while its handler runs; the returned function stops it. */
  private heartbeat(handle: string): () => Promise<void> {
    let renewing: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (renewing) return; // one renewal at a time: a hanging request must not pile up more
      renewing = this.setVisibility(handle, this.visibilityTimeoutSec).finally(() => (renewing = null));
    }, this.heartbeatMs);
    return async () => {
      clearInterval(timer);
      await renewing;
    };
  }

  /** The same message comes back at `at`; beyond the 12 h ceiling it is deleted for the sweeper. */
  private async hideUntil(handle: string, at: number, receivedAt: number): Promise<void> {
    const seconds = visibilityUntil(at, this.now(), receivedAt);
    if (seconds === null) return this.remove(handle);
    return this.setVisibility(handle, seconds);
  }

  /** Deletes a message that names no delivery; its body is never reported (it may hold anything). */
  private async discard(message: Message, handle: string): Promise<void> {
    await this.remove(handle);
    this.report(new Error(`sqs: invalid message ${message.MessageId ?? '?'} deleted`));
  }

  private async release(messages: Message[]): Promise<void> {
    const handles = messages.map((m) => m.ReceiptHandle).filter((h): h is string => !!h);
    if (handles.length === 0) return;
    await this.client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h, VisibilityTimeout: 0 })),
      }),
    );
  }

  /** Failures are reported, not thrown: the message then returns when its current visibility ends. */
  private async setVisibility(handle: string, seconds: number): Promise<void> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: handle, VisibilityTimeout: seconds }),
      );
    } catch (error) {
      this.report(new Error('sqs: visibility change failed', { cause: error }));
    }
  }

  /** A failed delete only means the message comes back, and the handler finds the delivery finished. */
  private async remove(handle: string): Promise<void> {
    try {
      await this.deletes.delete(handle);
    } catch (error) {
      this.report(new Error('sqs: delete failed', { cause: error }));
    }
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
}
