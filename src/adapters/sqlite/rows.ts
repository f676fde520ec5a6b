import type { Attempt, AttemptOutcome, Delivery, DeliveryKind, DeliveryStatus, ErrorClass } from '../../domain/delivery.js';
import type { StoredLead } from '../../domain/lead.js';
import { InvalidCursorError } from '../../ports/lead-store.js';

/** The one place where SQLite rows (snake_case) become domain objects (camelCase). */

export interface DeliveryRow {
  id: string;
  lead_id: string;
  destination: string;
  status: DeliveryStatus;
  attempts: number;
  cycle_attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  delivered_at: number | null;
  created_at: number;
  updated_at: number;
  lease_until: number | null;
  kind: DeliveryKind;
  erasure_id: string | null;
}

export interface AttemptRow {
  delivery_id: string;
  number: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error_class: ErrorClass | null;
  error: string | null;
  response_body: string | null;
  outcome: AttemptOutcome;
}

export interface LeadRow {
  data: string;
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    leadId: row.lead_id,
    destination: row.destination,
    status: row.status,
    ...(row.kind === 'lead.erased' ? { kind: row.kind } : {}),
    attempts: row.attempts,
    cycleAttempts: row.cycle_attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    deliveredAt: row.delivered_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toAttempt(row: AttemptRow): Attempt {
  return {
    deliveryId: row.delivery_id,
    number: row.number,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    errorClass: row.error_class,
    error: row.error,
    responseBody: row.response_body,
    outcome: row.outcome,
  };
}

/** The attempt as named parameters of the INSERT in the store. */
export function attemptParams(attempt: Attempt): AttemptRow {
  return {
    delivery_id: attempt.deliveryId,
    number: attempt.number,
    started_at: attempt.startedAt,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error_class: attempt.errorClass,
    error: attempt.error,
    response_body: attempt.responseBody,
    outcome: attempt.outcome,
  };
}

export function toLead(row: LeadRow): StoredLead {
  return JSON.parse(row.data) as StoredLead;
}

/** Keyset cursors are the last id of a page, base64url-encoded so callers treat them as opaque. */
const CURSOR_PREFIX = 'd1:';

export function encodeCursor(lastId: string): string {
  return Buffer.from(CURSOR_PREFIX + lastId, 'utf8').toString('base64url');
}

/** Throws InvalidCursorError (no input echoed back) when the cursor was not made by encodeCursor. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(CURSOR_PREFIX) || text.length === CURSOR_PREFIX.length) {
    throw new InvalidCursorError();
  }
  return text.slice(CURSOR_PREFIX.length);
}

/** 1..500; a non-number falls back to 100. */
export function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return 100;
  return Math.min(500, Math.max(1, Math.floor(limit)));
}
