import type { Message, SendMessageBatchCommandOutput, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { Job } from '../../ports/job-queue.js';

/** SQS limits the adapter works within (seconds). */
export const MAX_DELAY_SEC = 900;
export const MAX_VISIBILITY_SEC = 43_200;
/** Room left under the 12 h visibility ceiling for clock drift and request latency. */
const VISIBILITY_MARGIN_SEC = 60;

/** The message attribute carrying the job's due time; the body stays `{"deliveryId"}` only. */
export const RUN_AT_ATTRIBUTE = 'runAt';

// Delivery ids are UUIDs; anything else in a body is foreign or corrupt, and must not reach logs.
const DELIVERY_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Whole seconds until `at`, rounded up so a message never comes back before it. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * One batch entry. A runAt further than SQS's 15 min delay still goes out with the maximum
 * delay: the consumer sees it is early and hides it again until runAt (see SqsJobQueue).
 */
export function toEntry(job: Job, index: number, now: number): SendMessageBatchRequestEntry {
  return {
    Id: String(index),
    MessageBody: JSON.stringify({ deliveryId: job.deliveryId }),
    DelaySeconds: Math.min(MAX_DELAY_SEC, secondsUntil(job.runAt, now)),
    MessageAttributes: { [RUN_AT_ATTRIBUTE]: { DataType: 'Number', StringValue: String(Math.round(job.runAt)) } },
  };
}

/** The job a message names, or null when the body is not ours. Never echoes the body. */
export function parseJob(message: Message, now: number): Job | null {
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const { deliveryId } = body as { deliveryId?: unknown };
  if (typeof deliveryId !== 'string' || !DELIVERY_ID.test(deliveryId)) return null;
  // A message sent without the attribute (by hand, or an older sender) is due now.
  const runAt = Number(message.MessageAttributes?.[RUN_AT_ATTRIBUTE]?.StringValue);
  return { deliveryId, runAt: Number.isFinite(runAt) ? runAt : now };
}

export function receiveCount(message: Message): number {
  const count = Number(message.Attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) && count > 0 ? count : 1;
}

/**
 * Visibility (seconds) that hides a received message until `at`, or null when `at` lies past
 * what SQS allows: visibility ends at most 12 h after the receive request.
 */
export function visibilityUntil(at: number, now: number, receivedAt: number): number | null {
  const seconds = secondsUntil(at, now);
  const ceiling = MAX_VISIBILITY_SEC - VISIBILITY_MARGIN_SEC - Math.ceil((now - receivedAt) / 1000);
  return seconds <= ceiling ? seconds : null;
}

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * What went wrong with an enqueue, or null when every job was taken: whole batches that failed
 * and single entries SQS refused are counted alike, so a partial failure is never ignored.
 */
export function enqueueFailure(
  results: Array<PromiseSettledResult<SendMessageBatchCommandOutput>>,
  batches: Job[][],
  total: number,
): Error | null {
  let failed = 0;
  const codes = new Set<string>();
  let cause: unknown;
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      failed += batches[i]!.length;
      cause ??= result.reason;
      codes.add(result.reason instanceof Error ? result.reason.name : 'unknown');
    } else {
      for (const f of result.value.Failed ?? []) {
        failed += 1;
        codes.add(f.Code ?? 'unknown');
      }
    }
  });
  if (failed === 0) return null;
  return new Error(`sqs: ${failed} of ${total} jobs not enqueued (${[...codes].join(', ')})`, { cause });
}
