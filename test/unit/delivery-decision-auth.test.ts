import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../src/domain/config.js';
import { decideAttempt, tokenFailure, transformFailure } from '../../src/domain/delivery-decision.js';
import type { Delivery } from '../../src/domain/delivery.js';
import type { SendResult } from '../../src/ports/destination-client.js';
import { pendingDelivery } from '../helpers/deliveries.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const policy: RetryPolicy = { delaysMs: [5_000, 300_000] };
const half = () => 0.5;

const delivery = (overrides: Partial<Delivery> = {}): Delivery => pendingDelivery(NOW, overrides);

const unauthorized: SendResult = { kind: 'response', statusCode: 401, retryAfterMs: null, body: '', durationMs: 7 };
const decide401 = (d: Delivery, oauth2: boolean) =>
  decideAttempt({ delivery: d, result: unauthorized, policy, startedAt: NOW - 7, now: NOW, random: half, oauth2 });

describe('401 with OAuth2', () => {
  it('is permanent without OAuth2 (static bearer or basic)', () => {
    expect(decide401(delivery(), false)).toMatchObject({ status: 'dead', attempt: { statusCode: 401, errorClass: 'http_status' } });
  });

  it('is retried on the schedule the first time with OAuth2', () => {
    expect(decide401(delivery(), true)).toMatchObject({
      status: 'pending',
      nextAttemptAt: NOW + 5_000,
      attempt: { outcome: 'retry', statusCode: 401, errorClass: 'http_status', error: 'http 401' },
    });
    // After another kind of failure, too.
    expect(decide401(delivery({ attempts: 1, cycleAttempts: 1, lastStatusCode: 503 }), true).status).toBe('pending');
  });

  it('dead-letters a second 401 in a row: the fresh token was rejected too', () => {
    expect(decide401(delivery({ attempts: 1, cycleAttempts: 1, lastStatusCode: 401 }), true)).toMatchObject({
      status: 'dead',
      attempt: { outcome: 'dead', statusCode: 401 },
    });
  });

  it('gives a replayed delivery one retry again', () => {
    expect(decide401(delivery({ attempts: 2, cycleAttempts: 0, lastStatusCode: 401 }), true).status).toBe('pending');
  });

  it('still dead-letters a 401 on the last attempt', () => {
    expect(decide401(delivery({ attempts: 2, cycleAttempts: 2, lastStatusCode: 503 }), true).status).toBe('dead');
  });

  it('leaves 403 permanent', () => {
    const forbidden: SendResult = { ...unauthorized, statusCode: 403 };
    expect(decideAttempt({ delivery: delivery(), result: forbidden, policy, startedAt: NOW, now: NOW, random: half, oauth2: true }).status).toBe('dead');
  });
});

describe('tokenFailure', () => {
  it('retries with errorClass auth on the schedule, then dead-letters', () => {
    const input = { policy, startedAt: NOW - 30, now: NOW, random: half, error: 'oauth2 token: http 503', durationMs: 30 };
    expect(tokenFailure({ ...input, delivery: delivery() })).toEqual({
      attempt: {
        deliveryId: 'dlv_1',
        number: 1,
        startedAt: NOW - 30,
        durationMs: 30,
        statusCode: null,
        errorClass: 'auth',
        error: 'oauth2 token: http 503',
        responseBody: null,
        outcome: 'retry',
      },
      status: 'pending',
      nextAttemptAt: NOW + 5_000,
    });
    expect(tokenFailure({ ...input, delivery: delivery({ attempts: 2, cycleAttempts: 2 }) })).toMatchObject({
      status: 'dead',
      attempt: { errorClass: 'auth', outcome: 'dead', number: 3 },
    });
  });
});

describe('transformFailure', () => {
  it('dead-letters at once with errorClass transform', () => {
    expect(transformFailure(delivery({ attempts: 3 }), NOW, 'transform timed out')).toEqual({
      attempt: {
        deliveryId: 'dlv_1',
        number: 4,
        startedAt: NOW,
        durationMs: 0,
        statusCode: null,
        errorClass: 'transform',
        error: 'transform timed out',
        responseBody: null,
        outcome: 'dead',
      },
      status: 'dead',
      nextAttemptAt: null,
    });
  });
});
