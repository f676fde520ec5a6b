import type { SendResult } from '../ports/destination-client.js';
import type { RetryPolicy } from './config.js';
import type { AttemptOutcome, AttemptResult, Delivery, ErrorClass } from './delivery.js';
import { nextDelayMs } from './retry.js';

/**
 * The one place that decides delivered / retry / dead after an attempt, so every queue and
 * store backend behaves the same.
 */

/** Statuses that mean "not now" rather than "never": the contract retries these. */
const RETRYABLE_STATUSES = new Set([408, 425, 429]);

export function isRetryableStatus(statusCode: number): boolean {
  return RETRYABLE_STATUSES.has(statusCode) || (statusCode >= 500 && statusCode <= 599);
}

export function isSuccessStatus(statusCode: number): boolean {
  return statusCode >= 200 && statusCode <= 299;
}

/** Fixed-vocabulary messages are short; this only guards against a misbehaving client. */
const MAX_ERROR_LENGTH = 200;

export interface DecideAttemptInput {
  /** The delivery as loaded before the attempt. */
  delivery: Delivery;
  result: SendResult;
  policy: RetryPolicy;
  /** Epoch ms when the request was started. */
  startedAt: number;
  /** Epoch ms when the result came back: retries are scheduled from here. */
  now: number;
  random: () => number;
}

export function decideAttempt(input: DecideAttemptInput): AttemptResult {
  const { result } = input;
  if (result.kind === 'response') {
    const { statusCode } = result;
    if (isSuccessStatus(statusCode)) {
      return build(input, { outcome: 'delivered', statusCode, errorClass: null, error: null, body: result.body });
    }
    const failure = { statusCode, errorClass: 'http_status' as const, error: `http ${statusCode}`, body: result.body };
    if (!isRetryableStatus(statusCode)) return build(input, { ...failure, outcome: 'dead' });
    return retryOrDead(input, failure, result.retryAfterMs);
  }
  return retryOrDead(
    input,
    { statusCode: null, errorClass: result.errorClass, error: result.error, body: null },
    null,
  );
}

/** leadgate could not even build the request (e.g. the destination left the config): retrying cannot help. */
export function requestBuildFailure(delivery: Delivery, now: number, error: string): AttemptResult {
  return {
    attempt: {
      deliveryId: delivery.id,
      number: delivery.attempts + 1,
      startedAt: now,
      durationMs: 0,
      statusCode: null,
      errorClass: 'request_build',
      error: truncate(error),
      responseBody: null,
      outcome: 'dead',
    },
    status: 'dead',
    nextAttemptAt: null,
  };
}

interface Failure {
  statusCode: number | null;
  errorClass: ErrorClass;
  error: string;
  body: string | null;
}

function retryOrDead(input: DecideAttemptInput, failure: Failure, retryAfterMs: number | null): AttemptResult {
  // The attempt just made counts: after the first failure cycleAttempts is 1.
  const delay = nextDelayMs(input.policy, input.delivery.cycleAttempts + 1, retryAfterMs, input.random);
  if (delay === null) return build(input, { ...failure, outcome: 'dead' });
  return build(input, { ...failure, outcome: 'retry' }, input.now + delay);
}

function build(
  input: DecideAttemptInput,
  o: {
    outcome: AttemptOutcome;
    statusCode: number | null;
    errorClass: ErrorClass | null;
    error: string | null;
    body: string | null;
  },
  nextAttemptAt: number | null = null,
): AttemptResult {
  return {
    attempt: {
      deliveryId: input.delivery.id,
      number: input.delivery.attempts + 1,
      startedAt: input.startedAt,
      durationMs: Math.max(0, Math.round(input.result.durationMs)),
      statusCode: o.statusCode,
      errorClass: o.errorClass,
      error: o.error === null ? null : truncate(o.error),
      responseBody: o.body === '' ? null : o.body,
      outcome: o.outcome,
    },
    status: o.outcome === 'retry' ? 'pending' : o.outcome,
    nextAttemptAt: o.outcome === 'retry' ? nextAttemptAt : null,
  };
}

function truncate(s: string): string {
  return s.length > MAX_ERROR_LENGTH ? s.slice(0, MAX_ERROR_LENGTH) : s;
}
