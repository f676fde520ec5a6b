import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../src/domain/config.js';
import { decideAttempt, isRetryableStatus, requestBuildFailure } from '../../src/domain/delivery-decision.js';
import type { Delivery } from '../../src/domain/delivery.js';
import type { SendResult } from '../../src/ports/destination-client.js';
import { pendingDelivery } from '../helpers/deliveries.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const policy: RetryPolicy = { delaysMs: [5_000, 300_000, 1_800_000] }; // 4 attempts
const half = () => 0.5; // jitter factor 1.0

const delivery = (overrides: Partial<Delivery> = {}): Delivery => pendingDelivery(NOW, overrides);

const response = (statusCode: number, extra: Partial<{ retryAfterMs: number | null; body: string }> = {}): SendResult => ({
  kind: 'response',
  statusCode,
  retryAfterMs: extra.retryAfterMs ?? null,
  body: extra.body ?? '',
  durationMs: 42,
});

const decide = (result: SendResult, d: Delivery = delivery(), random = half) =>
  decideAttempt({ delivery: d, result, policy, startedAt: NOW - 42, now: NOW, random });

describe('decideAttempt', () => {
  it.each([200, 201, 202, 204, 299])('%d is delivered', (status) => {
    const r = decide(response(status, { body: '{"ok":true}' }));
    expect(r.status).toBe('delivered');
    expect(r.nextAttemptAt).toBeNull();
    expect(r.attempt).toEqual({
      deliveryId: 'dlv_1',
      number: 1,
      startedAt: NOW - 42,
      durationMs: 42,
      statusCode: status,
      errorClass: null,
      error: null,
      responseBody: '{"ok":true}',
      outcome: 'delivered',
    });
  });

  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%d is retried on the schedule', (status) => {
    const r = decide(response(status, { body: 'busy' }));
    expect(r.status).toBe('pending');
    expect(r.nextAttemptAt).toBe(NOW + 5_000);
    expect(r.attempt).toMatchObject({
      outcome: 'retry',
      statusCode: status,
      errorClass: 'http_status',
      error: `http ${status}`,
      responseBody: 'busy',
    });
  });

  it.each([300, 301, 302, 304, 400, 401, 403, 404, 409, 410, 413, 422, 499, 600, 100])(
    '%d dead-letters at once',
    (status) => {
      const r = decide(response(status));
      expect(r.status).toBe('dead');
      expect(r.nextAttemptAt).toBeNull();
      expect(r.attempt).toMatchObject({ outcome: 'dead', statusCode: status, errorClass: 'http_status', error: `http ${status}` });
      expect(r.attempt.responseBody).toBeNull(); // an empty body is stored as null
    },
  );

  it('retries timeouts and network failures, keeping their fixed message', () => {
    const timeout = decide({ kind: 'failure', errorClass: 'timeout', error: 'timeout after 10000 ms', durationMs: 10_000 });
    expect(timeout.status).toBe('pending');
    expect(timeout.attempt).toMatchObject({
      outcome: 'retry',
      statusCode: null,
      errorClass: 'timeout',
      error: 'timeout after 10000 ms',
      responseBody: null,
      durationMs: 10_000,
    });
    const network = decide({ kind: 'failure', errorClass: 'network', error: 'network: ECONNREFUSED', durationMs: 1 });
    expect(network.attempt).toMatchObject({ outcome: 'retry', errorClass: 'network', error: 'network: ECONNREFUSED' });
  });

  it('uses the position in the current cycle for the delay and the lifetime count for the number', () => {
    // A replayed delivery: 9 attempts ever, 1 in this cycle → the second delay.
    const r = decide(response(503), delivery({ attempts: 9, cycleAttempts: 1 }));
    expect(r.attempt.number).toBe(10);
    expect(r.nextAttemptAt).toBe(NOW + 300_000);
  });

  it('dead-letters a retryable failure after the last attempt', () => {
    const third = decide(response(503), delivery({ attempts: 2, cycleAttempts: 2 }));
    expect(third.status).toBe('pending');
    expect(third.nextAttemptAt).toBe(NOW + 1_800_000);
    const last = decide(response(503), delivery({ attempts: 3, cycleAttempts: 3 }));
    expect(last.status).toBe('dead');
    expect(last.nextAttemptAt).toBeNull();
    expect(last.attempt).toMatchObject({ number: 4, outcome: 'dead', error: 'http 503', errorClass: 'http_status' });
  });

  it('honours Retry-After up to the scheduled delay', () => {
    expect(decide(response(429, { retryAfterMs: 1_000 }), delivery(), () => 0).nextAttemptAt).toBe(NOW + 1_000);
    expect(decide(response(429, { retryAfterMs: 86_400_000 }), delivery(), () => 0).nextAttemptAt).toBe(NOW + 5_000);
  });

  it('applies jitter to the schedule', () => {
    expect(decide(response(500), delivery(), () => 0).nextAttemptAt).toBe(NOW + 4_000);
    expect(decide(response(500), delivery(), () => 0.999_999).nextAttemptAt).toBeLessThan(NOW + 6_000);
  });

  it('a success still counts after earlier failures', () => {
    const r = decide(response(200), delivery({ attempts: 3, cycleAttempts: 3 }));
    expect(r.status).toBe('delivered');
    expect(r.attempt.number).toBe(4);
  });

  it('bounds an overlong error message from a misbehaving client', () => {
    const r = decide({ kind: 'failure', errorClass: 'network', error: 'x'.repeat(5_000), durationMs: 1 });
    expect(r.attempt.error!.length).toBeLessThanOrEqual(200);
  });
});

describe('requestBuildFailure', () => {
  it('dead-letters at once with request_build', () => {
    const r = requestBuildFailure(delivery({ attempts: 2, cycleAttempts: 0 }), NOW, 'unknown destination');
    expect(r).toEqual({
      status: 'dead',
      nextAttemptAt: null,
      attempt: {
        deliveryId: 'dlv_1',
        number: 3,
        startedAt: NOW,
        durationMs: 0,
        statusCode: null,
        errorClass: 'request_build',
        error: 'unknown destination',
        responseBody: null,
        outcome: 'dead',
      },
    });
  });
});

describe('isRetryableStatus', () => {
  it('is the contract set', () => {
    const retryable = [...Array(600).keys()].filter(isRetryableStatus);
    expect(retryable).toEqual([408, 425, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)]);
  });
});
