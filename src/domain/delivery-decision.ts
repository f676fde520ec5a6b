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
  /** The request carried an OAuth2 access token (see isRetryableAuthRejection). */
  oauth2?: boolean;
  /**
   * Set when the request was a circuit-breaker probe that failed: when the breaker lets the
   * next request through. A retryable failure then comes back then, keeping its schedule.
   */
  probeRetryAt?: number | null;
}

export function decideAttempt(input: DecideAttemptInput): AttemptResult {
  const { result } = input;
  const timing = { ...input, durationMs: result.durationMs };
  if (result.kind === 'response') {
    const { statusCode } = result;
    if (isSuccessStatus(statusCode)) {
      return build(timing, { outcome: 'delivered', statusCode, errorClass: null, error: null, body: result.body });
    }
    const failure = { statusCode, errorClass: 'http_status' as const, error: `http ${statusCode}`, body: result.body };
    if (!isRetryableStatus(statusCode) && !isRetryableAuthRejection(input, statusCode)) {
      return build(timing, { ...failure, outcome: 'dead' });
    }
    if (isRetryableStatus(statusCode) && input.probeRetryAt != null) return probeFailed(timing, failure, input.probeRetryAt, result.retryAfterMs);
    return retryOrDead(timing, failure, result.retryAfterMs);
  }
  const failure = { statusCode: null, errorClass: result.errorClass, error: result.error, body: null };
  if (input.probeRetryAt != null) return probeFailed(timing, failure, input.probeRetryAt, null);
  return retryOrDead(timing, failure, null);
}

/**
 * 401 is normally permanent. With OAuth2 the access token may have been revoked or rotated
 * before its `expires_in` ran out, so the first 401 of a retry cycle is retried on the
 * schedule (the worker drops the cached token, so that attempt fetches a new one). A second
 * 401 in a row was made with a fresh token: the credentials or scope are wrong, and it
 * dead-letters like any 4xx. A replay starts a new cycle, so it again gets one retry.
 */
export function isRetryableAuthRejection(input: Pick<DecideAttemptInput, 'delivery' | 'oauth2'>, statusCode: number): boolean {
  if (statusCode !== 401 || input.oauth2 !== true) return false;
  const { delivery } = input;
  return !(delivery.cycleAttempts > 0 && delivery.lastStatusCode === 401);
}

export interface TokenFailureInput extends Omit<DecideAttemptInput, 'result' | 'oauth2'> {
  /** Fixed text naming what failed (status, error code): never a secret or a token body. */
  error: string;
  durationMs: number;
}

/**
 * The OAuth2 token endpoint failed, so nothing was sent: `auth`, retried on the schedule like
 * a network failure (the identity provider is down, or its credentials are being fixed).
 */
export function tokenFailure(input: TokenFailureInput): AttemptResult {
  return retryOrDead(input, { statusCode: null, errorClass: 'auth', error: input.error, body: null }, null);
}

/**
 * The destination's transform failed on this lead (threw, timed out, returned no object).
 * The same lead gives the same result on every attempt, so it dead-letters at once; fixing
 * the expression and replaying delivers it.
 */
export function transformFailure(delivery: Delivery, now: number, error: string): AttemptResult {
  return deadAtOnce(delivery, now, 'transform', error);
}

/** leadgate could not even build the request (e.g. the destination left the config): retrying cannot help. */
export function requestBuildFailure(delivery: Delivery, now: number, error: string): AttemptResult {
  return deadAtOnce(delivery, now, 'request_build', error);
}

function deadAtOnce(delivery: Delivery, now: number, errorClass: ErrorClass, error: string): AttemptResult {
  return {
    attempt: {
      deliveryId: delivery.id,
      number: delivery.attempts + 1,
      startedAt: now,
      durationMs: 0,
      statusCode: null,
      errorClass,
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

/** What an outcome is built from: the attempt's inputs and how long it took. */
type Timing = Omit<DecideAttemptInput, 'result'> & { durationMs: number };

/** A failed probe: back when the breaker next lets a request through (or after Retry-After), schedule kept. */
function probeFailed(input: Timing, failure: Failure, probeRetryAt: number, retryAfterMs: number | null): AttemptResult {
  const at = Math.max(probeRetryAt, input.now + (retryAfterMs !== null && Number.isFinite(retryAfterMs) ? Math.max(0, retryAfterMs) : 0));
  return { ...build(input, { ...failure, outcome: 'retry' }, Math.round(at)), keepsSchedule: true };
}

function retryOrDead(input: Timing, failure: Failure, retryAfterMs: number | null): AttemptResult {
  // The attempt just made counts: after the first failure cycleAttempts is 1.
  const delay = nextDelayMs(input.policy, input.delivery.cycleAttempts + 1, retryAfterMs, input.random);
  if (delay === null) return build(input, { ...failure, outcome: 'dead' });
  return build(input, { ...failure, outcome: 'retry' }, input.now + delay);
}

function build(
  input: Timing,
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
      durationMs: Math.max(0, Math.round(input.durationMs)),
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
