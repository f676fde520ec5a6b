import type Database from 'better-sqlite3';
import type { Attempt, DeliveryStatus, NewDelivery } from '../../domain/delivery.js';
import type { IngestCommand, IngestResult } from '../../ports/lead-store.js';
import { attemptParams, type DeliveryRow } from './rows.js';

/**
 * Every write to the SQLite database, as named operations. They run in the writer thread
 * (writer-thread.ts), inside the group-commit transaction, each in its own savepoint; the
 * adapters name an operation and pass plain data (structured-cloned to the thread), so no
 * closure crosses the thread boundary. Reads stay on the caller's thread (database.ts).
 */

/** Prepared-statement cache of the connection the operation runs on. */
export interface Statements {
  get(sql: string): Database.Statement<unknown[], unknown>;
}

/** Thrown by an operation to undo its own writes (its savepoint) and still answer `value`. */
export class RollbackWith {
  constructor(readonly value: unknown) {}
}

/** Expired idempotency keys and fingerprints are deleted a bounded batch at a time. */
const PRUNE_BATCH = 500;

export const WRITE_SQL = {
  insertLead: 'INSERT INTO leads (id, brand, status, received_at, data) VALUES (?, ?, ?, ?, ?)',
  insertDelivery: `INSERT INTO deliveries (id, lead_id, destination, status, attempts, cycle_attempts,
      next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, 0, ?, ?, ?)`,
  getKey: 'SELECT body_hash, lead_id, expires_at FROM idempotency_keys WHERE brand = ? AND key = ?',
  upsertKey: `INSERT INTO idempotency_keys (brand, key, body_hash, lead_id, expires_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (brand, key) DO UPDATE SET body_hash = excluded.body_hash, lead_id = excluded.lead_id,
      expires_at = excluded.expires_at`,
  pruneKeys: `DELETE FROM idempotency_keys WHERE rowid IN
      (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
  insertFingerprint: 'INSERT INTO lead_fingerprints (fingerprint, received_at, lead_id, expires_at) VALUES (?, ?, ?, ?)',
  pruneFingerprints: `DELETE FROM lead_fingerprints WHERE rowid IN
      (SELECT rowid FROM lead_fingerprints WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
  insertAttempt: `INSERT OR IGNORE INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error_class,
      error, response_body, outcome) VALUES (@delivery_id, @number, @started_at, @duration_ms, @status_code,
      @error_class, @error, @response_body, @outcome)`,
  applyAttempt: `UPDATE deliveries SET attempts = attempts + 1, cycle_attempts = cycle_attempts + 1,
      last_status_code = ?, last_error = ?, status = ?, next_attempt_at = ?, delivered_at = ?, lease_until = NULL,
      updated_at = ? WHERE id = ? AND status = 'pending'`,
  // delivered_at goes back to NULL: a replayed delivery is pending again until it is delivered again.
  replayById: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_attempts = 0, lease_until = NULL,
      delivered_at = NULL, updated_at = ? WHERE id = ? RETURNING *`,
  setPaused: `INSERT INTO destination_state (destination, paused, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (destination) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
  // The claim takes due, unleased deliveries oldest first and leases them in one statement, so two
  // workers (even in two processes) never claim the same row while a lease holds.
  claim: `UPDATE deliveries SET lease_until = ? WHERE id IN (
      SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
        AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?)
    RETURNING id, next_attempt_at`,
  // Only touches the row if this worker's lease still holds it (the lease value is the token).
  setLease: 'UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_until = ?',
} as const;

/** An ingest as it crosses to the writer thread: the lead already serialised, the clock read. */
export interface IngestArgs {
  leadId: string;
  brand: string;
  status: string;
  receivedAt: number;
  /** JSON of the whole lead, as stored in leads.data. */
  data: string;
  deliveries: NewDelivery[];
  idempotency?: IngestCommand['idempotency'];
  fingerprints?: IngestCommand['fingerprints'];
  now: number;
  /** Also delete a batch of expired keys and fingerprints. */
  prune: boolean;
}

export interface RecordAttemptArgs {
  attempt: Attempt;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  now: number;
}

export type ReplayArgs =
  | { deliveryId: string; now: number }
  | { destination: string; since?: number; until?: number; now: number };

export const writeOps = {
  /**
   * The key check and the inserts run in one savepoint. SQLite serialises writers and the
   * writer thread runs each operation to completion, so a second request with the same key
   * always sees the first one committed or not started: `in_flight` never arises here.
   */
  ingest(s: Statements, a: IngestArgs): IngestResult {
    if (a.prune) {
      s.get(WRITE_SQL.pruneKeys).run(a.now);
      s.get(WRITE_SQL.pruneFingerprints).run(a.now);
    }
    if (a.idempotency) {
      const row = s.get(WRITE_SQL.getKey).get(a.brand, a.idempotency.key) as
        | { body_hash: string; lead_id: string; expires_at: number }
        | undefined;
      if (row && row.expires_at > a.now) {
        return row.body_hash === a.idempotency.bodyHash ? { kind: 'replayed', leadId: row.lead_id } : { kind: 'key_reused' };
      }
    }
    s.get(WRITE_SQL.insertLead).run(a.leadId, a.brand, a.status, a.receivedAt, a.data);
    const insertDelivery = s.get(WRITE_SQL.insertDelivery);
    for (const d of a.deliveries) insertDelivery.run(d.id, a.leadId, d.destination, a.receivedAt, a.now, a.now);
    if (a.idempotency) {
      const { key, bodyHash, expiresAt } = a.idempotency;
      s.get(WRITE_SQL.upsertKey).run(a.brand, key, bodyHash, a.leadId, expiresAt);
    }
    if (a.fingerprints) {
      const insertFingerprint = s.get(WRITE_SQL.insertFingerprint);
      for (const value of a.fingerprints.values) insertFingerprint.run(value, a.receivedAt, a.leadId, a.fingerprints.expiresAt);
    }
    return { kind: 'created', leadId: a.leadId };
  },

  /**
   * The delivery moves on if it is still pending, then its attempt is inserted unless that
   * number is already recorded, in which case both are undone and the answer is false.
   */
  recordAttempt(s: Statements, a: RecordAttemptArgs): boolean {
    const { attempt } = a;
    const deliveredAt = a.status === 'delivered' ? attempt.startedAt + attempt.durationMs : null;
    const nextAttemptAt = a.status === 'pending' ? a.nextAttemptAt : null;
    const changes = s
      .get(WRITE_SQL.applyAttempt)
      .run(attempt.statusCode, attempt.error, a.status, nextAttemptAt, deliveredAt, a.now, attempt.deliveryId).changes;
    if (changes !== 1) return false;
    if (s.get(WRITE_SQL.insertAttempt).run(attemptParams(attempt)).changes === 0) throw new RollbackWith(false);
    return true;
  },

  /** Pending again, from the first delay of the schedule; dead ones of a destination in bulk. */
  replay(s: Statements, a: ReplayArgs): DeliveryRow[] {
    if ('deliveryId' in a) return s.get(WRITE_SQL.replayById).all(a.now, a.now, a.deliveryId) as DeliveryRow[];
    const where = ['destination = ?', "status = 'dead'"];
    const params: unknown[] = [a.destination];
    if (a.since !== undefined) {
      where.push('updated_at >= ?');
      params.push(a.since);
    }
    if (a.until !== undefined) {
      where.push('updated_at <= ?');
      params.push(a.until);
    }
    // Only the shape varies (four texts), so the statement cache stays small.
    const sql = `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_attempts = 0,
        lease_until = NULL, delivered_at = NULL, updated_at = ? WHERE ${where.join(' AND ')} RETURNING *`;
    return s.get(sql).all(a.now, a.now, ...params) as DeliveryRow[];
  },

  setPaused(s: Statements, a: { destination: string; paused: boolean; now: number }): void {
    s.get(WRITE_SQL.setPaused).run(a.destination, a.paused ? 1 : 0, a.now);
  },

  claim(s: Statements, a: { lease: number; now: number; limit: number }): Array<{ id: string; next_attempt_at: number }> {
    return s.get(WRITE_SQL.claim).all(a.lease, a.now, a.now, a.limit) as Array<{ id: string; next_attempt_at: number }>;
  },

  setLease(s: Statements, a: { deliveryId: string; leaseUntil: number | null; token: number }): number {
    return s.get(WRITE_SQL.setLease).run(a.leaseUntil, a.deliveryId, a.token).changes;
  },

  /**
   * Statements run in order in one savepoint; their change counts. For maintenance and tests:
   * the adapters use the named operations above.
   */
  exec(s: Statements, statements: Array<{ sql: string; params?: unknown[] }>): number[] {
    return statements.map(({ sql, params = [] }) => s.get(sql).run(...params).changes);
  },
};

export type WriteOps = typeof writeOps;
export type WriteOpName = keyof WriteOps;
export type WriteArgs<K extends WriteOpName> = Parameters<WriteOps[K]>[1];
export type WriteResult<K extends WriteOpName> = ReturnType<WriteOps[K]>;

/** One operation of a batch, as posted to the writer thread. */
export interface WriteRequest {
  op: WriteOpName;
  args: unknown;
}

/** An error as it crosses back from the writer thread (SqliteError's code kept, stack dropped). */
export interface WriteFailure {
  name: string;
  message: string;
  code?: string;
}

export type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: WriteFailure };

/** The writer thread's answer to one batch: one outcome per request, or the whole batch failed. */
export type BatchAnswer = { committed: true; outcomes: WriteOutcome[] } | { committed: false; error: WriteFailure };

export function toWriteFailure(error: unknown): WriteFailure {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

/**
 * Runs one batch in one transaction, each request in its own savepoint so that a failing one
 * is undone alone. BEGIN IMMEDIATE takes the write lock at once (busy_timeout covers another
 * process holding it); COMMIT returns once the WAL is fsynced (synchronous = FULL).
 */
export function runBatch(db: Database.Database, s: Statements, requests: WriteRequest[]): BatchAnswer {
  const outcomes: WriteOutcome[] = [];
  try {
    s.get('BEGIN IMMEDIATE').run();
    for (const request of requests) {
      s.get('SAVEPOINT w').run();
      try {
        const op = writeOps[request.op] as (s: Statements, args: unknown) => unknown;
        const value = op(s, request.args);
        s.get('RELEASE w').run();
        outcomes.push({ ok: true, value });
      } catch (error) {
        s.get('ROLLBACK TO w').run();
        s.get('RELEASE w').run();
        outcomes.push(error instanceof RollbackWith ? { ok: true, value: error.value } : { ok: false, error: toWriteFailure(error) });
      }
    }
    s.get('COMMIT').run();
    return { committed: true, outcomes };
  } catch (error) {
    // BEGIN or COMMIT failed (busy past busy_timeout, disk full): nothing of the batch is durable.
    if (db.inTransaction) db.exec('ROLLBACK');
    return { committed: false, error: toWriteFailure(error) };
  }
}
