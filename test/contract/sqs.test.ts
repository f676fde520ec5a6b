import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { SqsJobQueue, type SqsJobQueueOptions } from '../../src/adapters/sqs/job-queue.js';
import type { JobQueue } from '../../src/ports/job-queue.js';
import { startFauxqsServer, tapClient, type ClientTap, type Fauxqs, type SentCommand } from '../helpers/fauxqs.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { waitFor } from '../helpers/wait.js';
import { deferred } from './fixtures.js';
import { describeJobQueueContract } from './job-queue.contract.js';

// One emulator per test file, a fresh queue per test.
let sqs: Fauxqs;
beforeAll(async () => {
  sqs = await startFauxqsServer();
});
afterAll(async () => {
  await sqs.stop();
});

describeJobQueueContract('sqs (fauxqs)', async ({ leaseMs }) => {
  const name = `contract-${randomUUID()}`;
  const queueUrl = sqs.createQueue(name);
  // SQS visibility is whole seconds: the suite's 300 ms lease becomes 1 s.
  const visibilityTimeoutSec = Math.max(1, Math.ceil(leaseMs / 1000));
  const taps = new Map<JobQueue, ClientTap>();
  const open = (): SqsJobQueue => {
    const client = sqs.client();
    // errorBackoffSec 1: a rejected job comes back after a second, not the production 5 s.
    const queue = new SqsJobQueue({ client, queueUrl, visibilityTimeoutSec, errorBackoffSec: 1 });
    taps.set(queue, tapClient(client));
    return queue;
  };
  const queue = open();
  await queue.migrate();
  return {
    store: new MemoryStore(),
    queue,
    newQueue: async () => open(),
    // A killed worker sends nothing more: no heartbeat extends its message, so it reappears.
    simulateCrash: async (crashed) => taps.get(crashed)?.cut(),
    cleanup: async () => {
      await Promise.all([...taps.keys()].map((q) => q.close()));
      sqs.server.deleteQueue(name);
      sqs.server.deleteQueue(`${name}-dlq`);
    },
  };
});

describe('sqs adapter: specifics', () => {
  const cleanups = cleanupAfterEach();

  interface Opened {
    queue: SqsJobQueue;
    tap: ClientTap;
    errors: unknown[];
  }

  /** A fresh queue, or another consumer on `queueUrl`; everything is closed after the test. */
  function open(options: Partial<SqsJobQueueOptions> & { queueUrl?: string } = {}): Opened & { queueUrl: string } {
    const queueUrl = options.queueUrl ?? sqs.createQueue();
    const client = sqs.client();
    const errors: unknown[] = [];
    const queue = new SqsJobQueue({ visibilityTimeoutSec: 1, onError: (e) => errors.push(e), ...options, client, queueUrl });
    cleanups.push(() => queue.close());
    return { queue, tap: tapClient(client), errors, queueUrl };
  }

  function inspect(queueUrl: string) {
    return sqs.server.inspectQueue(queueUrl.split('/').pop()!)!.messages;
  }

  /** Resolves with the first command of that name the tap sees (now or already sent). */
  function nextSend(tap: ClientTap, name: string, after = 0): Promise<SentCommand> {
    const seen = tap.sent.filter((c) => c.name === name)[after];
    if (seen) return Promise.resolve(seen);
    const found = deferred<SentCommand>();
    tap.onSend((c) => {
      if (c.name === name && tap.sent.filter((s) => s.name === name).length === after + 1) found.resolve(c);
    });
    return found.promise;
  }

  it('enqueue sends {"deliveryId"} only, 10 per batch, with the due time as delay and attribute', async () => {
    const { queue, tap, queueUrl } = open();
    const now = Date.now();
    const jobs = Array.from({ length: 23 }, (_, i) => ({ deliveryId: randomUUID(), runAt: i === 0 ? now + 3_600_000 : now }));
    await queue.enqueue(jobs);
    const batches = tap.sent.filter((c) => c.name === 'SendMessageBatchCommand');
    expect(batches.map((b) => b.input.Entries.length)).toEqual([10, 10, 3]);
    const first = batches[0]!.input.Entries[0];
    expect(JSON.parse(first.MessageBody)).toEqual({ deliveryId: jobs[0]!.deliveryId });
    // Due in an hour: sent with SQS's maximum delay; the consumer hides it again until due.
    expect(first.DelaySeconds).toBe(900);
    expect(first.MessageAttributes.runAt.StringValue).toBe(String(jobs[0]!.runAt));
    const { ready, delayed } = inspect(queueUrl);
    expect([ready.length, delayed.length]).toEqual([22, 1]);
  });

  it('enqueue rejects when SQS refuses part of a batch', async () => {
    const { queue, tap } = open();
    tap.rewriteNext('SendMessageBatchCommand', (out) => ({
      ...out,
      Successful: out.Successful.slice(1),
      Failed: [{ Id: out.Successful[0].Id, Code: 'InternalError', SenderFault: false }],
    }));
    const jobs = Array.from({ length: 3 }, () => ({ deliveryId: randomUUID(), runAt: Date.now() }));
    await expect(queue.enqueue(jobs)).rejects.toThrow(/1 of 3 jobs not enqueued \(InternalError\)/);
  });

  it('honours DelaySeconds: a job due in 1.5 s is handed no earlier', async () => {
    const { queue, queueUrl } = open();
    const runAt = Date.now() + 1_500;
    await queue.enqueue([{ deliveryId: randomUUID(), runAt }]);
    expect(inspect(queueUrl).delayed).toHaveLength(1);
    const handed = deferred<number>();
    queue.consume(async () => handed.resolve(Date.now()), { concurrency: 1 });
    expect(await handed.promise).toBeGreaterThanOrEqual(runAt);
  });

  it('hides a message that arrives before its due time, without running the handler', async () => {
    const { queue, tap, queueUrl } = open();
    const runAt = Date.now() + 3_600_000;
    // As if sent with the 15 min maximum delay, which has now passed.
    const client = sqs.client();
    cleanups.push(async () => client.destroy());
    await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ deliveryId: randomUUID() }),
        MessageAttributes: { runAt: { DataType: 'Number', StringValue: String(runAt) } },
      }),
    );
    let calls = 0;
    queue.consume(async () => void (calls += 1), { concurrency: 1 });
    const hidden = await nextSend(tap, 'ChangeMessageVisibilityCommand');
    expect(hidden.input.VisibilityTimeout).toBeGreaterThanOrEqual(3_599);
    expect(hidden.input.VisibilityTimeout).toBeLessThanOrEqual(3_600);
    await queue.stop();
    expect(calls).toBe(0);
    expect(inspect(queueUrl).inflight).toHaveLength(1);
  });

  it('retryAt within 15 min goes out as a new delayed message and the received one is deleted (no receive counted)', async () => {
    const { queue, tap, queueUrl } = open();
    const job = { deliveryId: randomUUID(), runAt: Date.now() };
    await queue.enqueue([job]);
    const retryAt = Date.now() + 120_000;
    const handled = deferred();
    queue.consume(
      async () => {
        handled.resolve();
        return { retryAt };
      },
      { concurrency: 1 },
    );
    await handled.promise;
    const resent = await nextSend(tap, 'SendMessageCommand');
    await nextSend(tap, 'DeleteMessageBatchCommand');
    await queue.stop();
    expect(JSON.parse(resent.input.MessageBody)).toEqual({ deliveryId: job.deliveryId });
    expect(resent.input.DelaySeconds).toBeGreaterThanOrEqual(119);
    expect(resent.input.DelaySeconds).toBeLessThanOrEqual(120);
    expect(resent.input.MessageAttributes.runAt.StringValue).toBe(String(retryAt));
    expect(tap.sent.filter((c) => c.name === 'ChangeMessageVisibilityCommand')).toHaveLength(0);
    const { ready, delayed, inflight } = inspect(queueUrl);
    expect([ready.length, delayed.length, inflight.length]).toEqual([0, 1, 0]);
  });

  it('retryAt past 15 min and within 12 h hides the same message until then; beyond, deletes it for the sweeper', async () => {
    // The queue's clock stands still, so the visibility it asks for is exact.
    const now = Date.now();
    const { queue, queueUrl, tap } = open({ now: () => now });
    const soon = { deliveryId: randomUUID(), runAt: now };
    const far = { deliveryId: randomUUID(), runAt: now };
    const retryAt = new Map<string, number>([
      [soon.deliveryId, now + 2 * 3_600_000],
      [far.deliveryId, now + 13 * 3_600_000],
    ]);
    await queue.enqueue([soon, far]);
    const handled = new Set<string>();
    const both = deferred();
    queue.consume(
      async (job) => {
        handled.add(job.deliveryId);
        if (handled.size === 2) both.resolve();
        return { retryAt: retryAt.get(job.deliveryId)! };
      },
      { concurrency: 2 },
    );
    await both.promise;
    await queue.stop();
    const { ready, delayed, inflight } = inspect(queueUrl);
    expect([ready.length, delayed.length]).toEqual([0, 0]);
    expect(inflight.map((m) => JSON.parse(m.message.body).deliveryId)).toEqual([soon.deliveryId]);
    const hidden = tap.sent.filter((c) => c.name === 'ChangeMessageVisibilityCommand');
    expect(hidden.map((c) => [c.input.ReceiptHandle, c.input.VisibilityTimeout])).toEqual([[inflight[0]!.receiptHandle, 2 * 3_600]]);
    expect(tap.sent.filter((c) => c.name === 'DeleteMessageCommand' || c.name === 'DeleteMessageBatchCommand')).toHaveLength(1);
  });

  it('a rejected job backs off by errorBackoffSec × receive count', async () => {
    const { queue, tap } = open({ errorBackoffSec: 7 });
    await queue.enqueue([{ deliveryId: randomUUID(), runAt: Date.now() }]);
    queue.consume(async () => Promise.reject(new Error('store unreachable')), { concurrency: 1 });
    const backoff = await nextSend(tap, 'ChangeMessageVisibilityCommand');
    expect(backoff.input.VisibilityTimeout).toBe(7);
    await queue.stop();
  });

  it('deletes a message whose body names no delivery and reports it without the body', async () => {
    const { queue, queueUrl, errors: reported } = open();
    const valid = randomUUID();
    // Each invalid body carries a marker that must not reach the reports (bodies may hold anything).
    const bodies = [
      'not json SECRET',
      '["SECRET"]',
      '{"deliveryId": 42, "note": "SECRET"}',
      '{"deliveryId": "SECRET x\\n"}',
      JSON.stringify({ deliveryId: valid }),
    ];
    const client = sqs.client();
    cleanups.push(async () => client.destroy());
    await client.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.map((b, i) => ({ Id: `m${i}`, MessageBody: b })) }),
    );
    const handed: string[] = [];
    queue.consume(async (job) => void handed.push(job.deliveryId), { concurrency: 10 });
    await waitFor(() => reported.length === 4 && handed.length === 1, { what: '4 reports and 1 handed job', timeoutMs: 10_000 });
    await queue.stop();
    expect(handed).toEqual([valid]);
    expect(reported.map(String).join('\n')).not.toMatch(/SECRET/);
    const { ready, delayed, inflight } = inspect(queueUrl);
    expect(ready.length + delayed.length + inflight.length).toBe(0);
  });

  it('a message whose worker died reappears after its visibility timeout', async () => {
    const dead = open({ visibilityTimeoutSec: 2 });
    const held = deferred();
    const never = deferred();
    cleanups.push(async () => never.resolve());
    dead.queue.consume(
      async () => {
        held.resolve();
        await never.promise;
      },
      { concurrency: 1 },
    );
    const id = randomUUID();
    // SQS received the message after this, so its 2 s visibility cannot end before sentAt + 2 s.
    const sentAt = Date.now();
    await dead.queue.enqueue([{ deliveryId: id, runAt: sentAt }]);
    await held.promise;
    dead.tap.cut(); // killed: no more heartbeats

    const other = open({ queueUrl: dead.queueUrl, visibilityTimeoutSec: 2 });
    const handed = deferred<{ id: string; at: number }>();
    other.queue.consume(async (job) => handed.resolve({ id: job.deliveryId, at: Date.now() }), { concurrency: 1 });
    const { id: reappeared, at } = await handed.promise;
    expect(reappeared).toBe(id);
    expect(at - sentAt).toBeGreaterThanOrEqual(1_990);
    await other.queue.stop();
    expect(inspect(dead.queueUrl).inflight).toHaveLength(0);
  });

  it('heartbeats keep a long-running handler’s message hidden past the first visibility timeout', async () => {
    const worker = open({ visibilityTimeoutSec: 1 });
    const release = deferred();
    cleanups.push(async () => release.resolve());
    const started = deferred<number>();
    worker.queue.consume(
      async () => {
        started.resolve(Date.now());
        await release.promise;
      },
      { concurrency: 1 },
    );
    // A competitor long-polls all along: it would get the message the moment it became visible.
    const competitor = open({ queueUrl: worker.queueUrl });
    let stolen = 0;
    competitor.queue.consume(async () => void (stolen += 1), { concurrency: 1 });
    await worker.queue.enqueue([{ deliveryId: randomUUID(), runAt: Date.now() }]);
    const startedAt = await started.promise;

    // Wait for a renewal sent more than twice the visibility timeout after the handler started.
    const late = deferred<SentCommand>();
    worker.tap.onSend((c) => {
      if (c.name === 'ChangeMessageVisibilityCommand' && c.at - startedAt > 2_200) late.resolve(c);
    });
    expect((await late.promise).input.VisibilityTimeout).toBe(1);
    expect(stolen).toBe(0);
    expect(inspect(worker.queueUrl).inflight.map((m) => m.message.approximateReceiveCount)).toEqual([1]);

    release.resolve();
    await worker.queue.stop();
    await competitor.queue.stop();
    expect(stolen).toBe(0);
    expect(inspect(worker.queueUrl).inflight).toHaveLength(0);
  });

  it('asks for no more messages than free handler slots', async () => {
    const { queue, tap } = open();
    const release = deferred();
    cleanups.push(async () => release.resolve());
    await queue.enqueue(Array.from({ length: 4 }, () => ({ deliveryId: randomUUID(), runAt: Date.now() })));
    let running = 0;
    queue.consume(
      async () => {
        running += 1;
        await release.promise;
      },
      { concurrency: 3 },
    );
    await waitFor(() => running === 3, { what: '3 handlers running', timeoutMs: 10_000 });
    expect((await nextSend(tap, 'ReceiveMessageCommand')).input.MaxNumberOfMessages).toBe(3);
    release.resolve();
    const later = await nextSend(tap, 'ReceiveMessageCommand', 1);
    expect(later.input.MaxNumberOfMessages).toBeLessThanOrEqual(3);
    await queue.stop();
  });

  it('stop() aborts the long poll at once', async () => {
    const { queue, tap } = open({ waitTimeSeconds: 20 });
    queue.consume(async () => {}, { concurrency: 1 });
    const receive = await nextSend(tap, 'ReceiveMessageCommand');
    await queue.stop();
    // Aborted, not answered: an empty queue would have answered 'ok' after the full 20 s.
    expect(await receive.outcome).toBe('AbortError');
    expect(tap.sent.filter((c) => c.name === 'ReceiveMessageCommand')).toHaveLength(1);
  });

  it('keeps polling through network errors with a growing backoff, then recovers', async () => {
    const { queue, tap, errors, queueUrl } = open();
    tap.cut();
    const handed = deferred<string>();
    queue.consume(async (job) => handed.resolve(job.deliveryId), { concurrency: 1 });
    await waitFor(() => errors.length >= 3, { what: '3 receive errors reported', timeoutMs: 10_000 });
    const receives = tap.sent.filter((c) => c.name === 'ReceiveMessageCommand').map((c) => c.at);
    const gaps = receives.slice(1, 3).map((at, i) => at - receives[i]!);
    // Never a tight loop: 200 ms, then 400 ms (timers fire late under load, never early).
    expect(gaps[0]).toBeGreaterThanOrEqual(190);
    expect(gaps[1]).toBeGreaterThanOrEqual(390);
    tap.restore();
    const id = randomUUID();
    const sender = open({ queueUrl });
    await sender.queue.enqueue([{ deliveryId: id, runAt: Date.now() }]);
    expect(await handed.promise).toBe(id);
    await queue.stop();
  });

  it('ping answers against the emulator and rejects for a closed endpoint or a missing queue', async () => {
    const { queue, queueUrl } = open();
    await expect(queue.ping()).resolves.toBeUndefined();

    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = new SqsJobQueue({
      client: new SQSClient({ region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 't', secretAccessKey: 't' } }),
      queueUrl,
      pingTimeoutMs: 1_000,
    });
    cleanups.push(() => unreachable.close());
    await expect(unreachable.ping()).rejects.toThrow();

    const missing = open({ queueUrl: queueUrl.replace(/[^/]+$/, `missing-${randomUUID()}`) });
    await expect(missing.queue.ping()).rejects.toThrow();
  });

  it('migrate creates the queue and a DLQ with a redrive policy, idempotently', async () => {
    const probe = sqs.createQueue();
    const name = `migrated-${randomUUID()}`;
    const { queue } = open({ queueUrl: probe.replace(/[^/]+$/, name), dlq: { maxReceiveCount: 7 } });
    await queue.migrate();
    await queue.migrate();
    const main = sqs.server.inspectQueue(name)!;
    const dlq = sqs.server.inspectQueue(`${name}-dlq`)!;
    expect(JSON.parse(main.attributes.RedrivePolicy!)).toEqual({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 7 });
    expect(dlq.attributes.MessageRetentionPeriod).toBe('1209600');
    await expect(queue.ping()).resolves.toBeUndefined();
  });
});
