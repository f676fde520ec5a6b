import type { Attempt, AttemptResult, Delivery } from '../../domain/delivery.js';
import type { PrivacyHasher } from '../../domain/fingerprint.js';
import type { Lead, StoredLead } from '../../domain/lead.js';
import type { Erasure, ErasureStep, NewErasure, PrivacyAuditEntry, PurgeCounts } from '../../ports/privacy-store.js';
import type {
  AttemptCounts,
  DeliveryFilter,
  DeliveryPage,
  DestinationState,
  DestinationStats,
  IngestCommand,
  IngestResult,
  LeadCounts,
  LeadFilter,
  LeadPage,
  LeadStore,
  ReplaySelector,
} from '../../ports/lead-store.js';
import type { SqliteDatabase } from './database.js';
import { attemptCounts, countLeads, listLeads } from './ops-queries.js';
import type { HandedOff, SqliteHandoff } from './handoff.js';
import { SqlitePrivacy } from './privacy.js';
import {
  attemptParams,
  clampLimit,
  decodeCursor,
  encodeCursor,
  toAttempt,
  toDelivery,
  toLead,
  type AttemptRow,
  type DeliveryRow,
  type LeadRow,
} from './rows.js';

export interface SqliteLeadStoreOptions {
  /** Clock, for tests. */
  now?: () => number;
  /** Hands committed deliveries to this process's worker (`leadgate serve`); see handoff.ts. */
  handoff?: SqliteHandoff;
  /**
   * How long an attempt's write may wait for other writes to share its COMMIT (ms, default 0).
   * Nothing answers 2xx on it: a crash in that window only means the CRM gets that delivery again.
   */
  attemptWriteDeferMs?: number;
  /** The keyed hasher (LEADGATE_PRIVACY_KEY): needed by migrate() to rehash leads stored before migration 006. */
  hasher?: PrivacyHasher;
}

/** Expired idempotency keys are pruned every this many ingests, a bounded batch at a time. */
const PRUNE_EVERY = 256;
const PRUNE_BATCH = 500;

const REPLAYABLE = `status <> 'cancelled' AND (kind = 'lead.erased'
  OR NOT EXISTS (SELECT 1 FROM leads WHERE leads.id = deliveries.lead_id AND leads.status = 'erased'))`;

const SQL = {
  insertLead: 'INSERT INTO leads (id, brand, status, received_at, data) VALUES (?, ?, ?, ?, ?)',
  insertDelivery: `INSERT INTO deliveries (id, lead_id, destination, status, attempts, cycle_attempts,
      next_attempt_at, created_at, updated_at, lease_until) VALUES (?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)`,
  getKey: 'SELECT body_hash, lead_id, expires_at FROM idempotency_keys WHERE brand = ? AND key = ?',
  upsertKey: `INSERT INTO idempotency_keys (brand, key, body_hash, lead_id, expires_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (brand, key) DO UPDATE SET body_hash = excluded.body_hash, lead_id = excluded.lead_id,
      expires_at = excluded.expires_at`,
  pruneKeys: `DELETE FROM idempotency_keys WHERE rowid IN
      (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
  insertFingerprint: 'INSERT INTO lead_fingerprints (fingerprint, received_at, lead_id, expires_at) VALUES (?, ?, ?, ?)',
  latestFingerprint: `SELECT lead_id, received_at FROM lead_fingerprints WHERE fingerprint = ? AND received_at >= ?
      ORDER BY received_at DESC, lead_id DESC LIMIT 1`,
  pruneFingerprints: `DELETE FROM lead_fingerprints WHERE rowid IN
      (SELECT rowid FROM lead_fingerprints WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
  getLead: 'SELECT data FROM leads WHERE id = ?',
  getDelivery: 'SELECT * FROM deliveries WHERE id = ?',
  deliveriesOfLead: 'SELECT * FROM deliveries WHERE lead_id = ? ORDER BY id',
  attemptsOf: 'SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number',
  insertAttempt: `INSERT OR IGNORE INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error_class,
      error, response_body, outcome) VALUES (@delivery_id, @number, @started_at, @duration_ms, @status_code,
      @error_class, @error, @response_body, @outcome)`,
  applyAttempt: `UPDATE deliveries SET attempts = attempts + 1, cycle_attempts = cycle_attempts + ?,
      last_status_code = ?, last_error = ?, status = ?, next_attempt_at = ?, delivered_at = ?, lease_until = NULL,
      updated_at = ? WHERE id = ? AND status = 'pending'`,
  // delivered_at goes back to NULL: a replayed delivery is pending again until it is delivered again.
  // Never a cancelled one, nor the lead.created of an erased lead (it would send the tombstone).
  replayById: `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_attempts = 0, lease_until = NULL,
      delivered_at = NULL, updated_at = ? WHERE id = ? AND ${REPLAYABLE} RETURNING *`,
  findDue: `SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
      ORDER BY next_attempt_at LIMIT ?`,
  stats: `SELECT destination,
        SUM(status = 'pending') AS pending,
        SUM(status = 'dead') AS dead,
        MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest
      FROM deliveries WHERE status IN ('pending', 'dead') GROUP BY destination ORDER BY destination`,
  ping: 'SELECT 1',
  setPaused: `INSERT INTO destination_state (destination, paused, updated_at, updated_by) VALUES (?, ?, ?, ?)
      ON CONFLICT (destination) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at,
      updated_by = excluded.updated_by`,
  paused: 'SELECT destination FROM destination_state WHERE paused = 1 ORDER BY destination',
  states: 'SELECT destination, paused, updated_at, updated_by FROM destination_state ORDER BY destination',
} as const;

/**
 * LeadStore on the embedded SQLite database. Every write goes through the group-commit
 * writer, so it resolves only after its transaction committed.
 */
export class SqliteLeadStore implements LeadStore {
  private readonly now: () => number;
  private readonly release: () => Promise<void>;
  private readonly handoff: SqliteHandoff | undefined;
  private readonly attemptWrite: { deferMs: number };
  private ingests = 0;
  private readonly privacy: SqlitePrivacy;

  constructor(
    private readonly database: SqliteDatabase,
    options: SqliteLeadStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.handoff = options.handoff;
    this.attemptWrite = { deferMs: options.attemptWriteDeferMs ?? 0 };
    this.release = database.acquire();
    this.privacy = new SqlitePrivacy(database, options.hasher);
  }

  async migrate(): Promise<void> {
    this.database.migrate();
    await this.privacy.migrateKeyedHashes();
  }

  /**
   * The key check and the inserts run in one transaction. SQLite serialises writers and this
   * process runs each write to completion, so a second request with the same key always sees
   * the first one committed or not started: `in_flight` never arises here (even two ingests
   * in the same batch give one `created` and one `replayed`).
   */
  ingest(command: IngestCommand): Promise<IngestResult> {
    const { lead, deliveries, idempotency, fingerprints, identities } = command;
    const prune = ++this.ingests % PRUNE_EVERY === 0;
    const handoff = this.handoff;
    const ticket = handoff?.newTicket();
    let receivedAt = 0;
    let insertedAt = 0;
    const written = this.database.write((): IngestResult => {
      const now = this.now();
      if (prune) {
        this.stmt('pruneKeys').run(now);
        this.stmt('pruneFingerprints').run(now);
      }
      if (idempotency) {
        const row = this.stmt('getKey').get(lead.brand, idempotency.key) as
          | { body_hash: string; lead_id: string; expires_at: number }
          | undefined;
        if (row && row.expires_at > now) {
          return row.body_hash === idempotency.bodyHash
            ? { kind: 'replayed', leadId: row.lead_id }
            : { kind: 'key_reused' };
        }
      }
      receivedAt = receivedAtMs(lead, now);
      insertedAt = now;
      this.stmt('insertLead').run(lead.id, lead.brand, lead.status, receivedAt, JSON.stringify(lead));
      // The claim is written with the insert: the worker of this process takes these after COMMIT.
      const lease = handoff && ticket ? handoff.reserve(ticket, deliveries.length, now) : null;
      const insertDelivery = this.stmt('insertDelivery');
      for (const delivery of deliveries) {
        insertDelivery.run(delivery.id, lead.id, delivery.destination, receivedAt, now, now, lease);
      }
      if (idempotency) {
        this.stmt('upsertKey').run(lead.brand, idempotency.key, idempotency.bodyHash, lead.id, idempotency.expiresAt);
      }
      if (fingerprints) {
        const insertFingerprint = this.stmt('insertFingerprint');
        for (const value of fingerprints.values) insertFingerprint.run(value, receivedAt, lead.id, fingerprints.expiresAt);
      }
      if (identities) this.privacy.insertIdentities(lead.id, lead.brand, identities);
      return { kind: 'created', leadId: lead.id };
    });
    if (!handoff || !ticket) return written;
    return written.then(
      (result) => {
        if (result.kind === 'created') {
          handoff.committed(ticket, () => deliveries.map((d): HandedOff => ({
            delivery: {
              id: d.id,
              leadId: lead.id,
              destination: d.destination,
              status: 'pending',
              attempts: 0,
              cycleAttempts: 0,
              lastStatusCode: null,
              lastError: null,
              nextAttemptAt: receivedAt,
              deliveredAt: null,
              createdAt: insertedAt,
              updatedAt: insertedAt,
            },
            lead,
            lease: ticket.lease!,
          })));
        } else {
          handoff.cancelled(ticket);
        }
        return result;
      },
      (error: unknown) => {
        handoff.cancelled(ticket);
        throw error;
      },
    );
  }

  /** One indexed lookup per fingerprint (an email and a phone: two at most), the latest wins. */
  async findDuplicate(fingerprints: string[], since: number): Promise<string | null> {
    type Row = { lead_id: string; received_at: number };
    let latest: Row | undefined;
    for (const fingerprint of fingerprints) {
      const row = this.stmt('latestFingerprint').get(fingerprint, since) as Row | undefined;
      // Ties on the millisecond go to the greater id (UUIDv7: the later one).
      if (row && (!latest || row.received_at > latest.received_at || (row.received_at === latest.received_at && row.lead_id > latest.lead_id))) {
        latest = row;
      }
    }
    return latest?.lead_id ?? null;
  }

  async getLead(id: string): Promise<StoredLead | null> {
    const row = this.stmt('getLead').get(id) as LeadRow | undefined;
    return row ? toLead(row) : null;
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    const row = this.stmt('getDelivery').get(id) as DeliveryRow | undefined;
    return row ? toDelivery(row) : null;
  }

  async listDeliveriesOfLead(leadId: string): Promise<Delivery[]> {
    return (this.stmt('deliveriesOfLead').all(leadId) as DeliveryRow[]).map(toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return (this.stmt('attemptsOf').all(deliveryId) as AttemptRow[]).map(toAttempt);
  }

  /** Keyset pagination on id (UUIDv7, so also creation order); one row more tells if a next page exists. */
  async listDeliveries(filter: DeliveryFilter): Promise<DeliveryPage> {
    const limit = clampLimit(filter.limit);
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.destination !== undefined) {
      where.push('destination = ?');
      params.push(filter.destination);
    }
    if (filter.since !== undefined) {
      where.push('updated_at >= ?');
      params.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('updated_at <= ?');
      params.push(filter.until);
    }
    if (filter.cursor !== undefined) {
      where.push('id > ?');
      params.push(decodeCursor(filter.cursor));
    }
    // Only the shape varies (at most 32 texts), so the statement cache stays small.
    const sql = `SELECT * FROM deliveries${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    const rows = this.database.statement(sql).all(...params, limit + 1) as DeliveryRow[];
    const items = rows.slice(0, limit).map(toDelivery);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  /**
   * Idempotent: an attempt already recorded (same number) or a delivery no longer pending
   * leaves everything as it is and gives false. Clears the queue's lease.
   */
  recordAttempt(result: AttemptResult): Promise<boolean> {
    const { attempt } = result;
    // Two statements on the hot path of the worker: the delivery moves on if it is still
    // pending, then its attempt is inserted unless that number is already recorded — in which
    // case AlreadyRecorded undoes this write (database.ts) and the answer is false.
    return this.database
      .write(() => {
        const deliveredAt = result.status === 'delivered' ? attempt.startedAt + attempt.durationMs : null;
        const changes = this.stmt('applyAttempt').run(
          result.keepsSchedule ? 0 : 1,
          attempt.statusCode,
          attempt.error,
          result.status,
          result.status === 'pending' ? result.nextAttemptAt : null,
          deliveredAt,
          this.now(),
          attempt.deliveryId,
        ).changes;
        if (changes !== 1) return false;
        if (this.stmt('insertAttempt').run(attemptParams(attempt)).changes === 0) throw new AlreadyRecorded();
        return true;
      }, this.attemptWrite)
      .catch((error: unknown) => {
        if (error instanceof AlreadyRecorded) return false;
        throw error;
      });
  }

  replay(selector: ReplaySelector): Promise<Delivery[]> {
    return this.database.write(() => {
      const now = this.now();
      if ('deliveryId' in selector) {
        return (this.stmt('replayById').all(now, now, selector.deliveryId) as DeliveryRow[]).map(toDelivery);
      }
      const where = ["destination = ?", "status = 'dead'", REPLAYABLE];
      const params: unknown[] = [selector.destination];
      if (selector.since !== undefined) {
        where.push('updated_at >= ?');
        params.push(selector.since);
      }
      if (selector.until !== undefined) {
        where.push('updated_at <= ?');
        params.push(selector.until);
      }
      const sql = `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_attempts = 0,
          lease_until = NULL, delivered_at = NULL, updated_at = ? WHERE ${where.join(' AND ')} RETURNING *`;
      const rows = this.database.statement(sql).all(now, now, ...params) as DeliveryRow[];
      return rows.map(toDelivery).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  async findDue(now: number, limit: number): Promise<Delivery[]> {
    return (this.stmt('findDue').all(now, limit) as DeliveryRow[]).map(toDelivery);
  }

  async stats(): Promise<DestinationStats[]> {
    const rows = this.stmt('stats').all() as Array<{
      destination: string;
      pending: number;
      dead: number;
      oldest: number | null;
    }>;
    return rows.map((row) => ({
      destination: row.destination,
      pending: row.pending,
      dead: row.dead,
      oldestPendingCreatedAt: row.oldest,
    }));
  }

  async setDestinationPaused(destination: string, paused: boolean, actor?: string): Promise<void> {
    await this.database.write(() => this.stmt('setPaused').run(destination, paused ? 1 : 0, this.now(), actor ?? null));
  }

  async pausedDestinations(): Promise<string[]> {
    return (this.stmt('paused').all() as Array<{ destination: string }>).map((row) => row.destination);
  }

  async destinationStates(): Promise<DestinationState[]> {
    type Row = { destination: string; paused: number; updated_at: number; updated_by: string | null };
    return (this.stmt('states').all() as Row[]).map((row) => ({
      destination: row.destination,
      paused: row.paused === 1,
      changedAt: row.updated_at,
      changedBy: row.updated_by,
    }));
  }

  async listLeads(filter: LeadFilter): Promise<LeadPage> {
    return listLeads(this.database, filter);
  }

  async countLeads(brand: string, since: number): Promise<LeadCounts> {
    return countLeads(this.database, brand, since);
  }

  async attemptCounts(since: number): Promise<AttemptCounts[]> {
    return attemptCounts(this.database, since);
  }

  findLeadsByIdentity(identities: string[], brand?: string): Promise<StoredLead[]> {
    return this.privacy.findLeadsByIdentity(identities, brand);
  }

  createErasure(erasure: NewErasure): Promise<void> {
    return this.privacy.createErasure(erasure);
  }

  getErasure(id: string): Promise<Erasure | null> {
    return this.privacy.getErasure(id);
  }

  pendingErasures(limit: number): Promise<Erasure[]> {
    return this.privacy.pendingErasures(limit);
  }

  eraseNext(erasureId: string, limit: number, now: number): Promise<ErasureStep> {
    return this.privacy.eraseNext(erasureId, limit, now);
  }

  completeErasure(erasureId: string, now: number): Promise<boolean> {
    return this.privacy.completeErasure(erasureId, now);
  }

  recordPrivacyAudit(entry: PrivacyAuditEntry): Promise<void> {
    return this.privacy.recordPrivacyAudit(entry);
  }

  listPrivacyAudit(limit: number): Promise<PrivacyAuditEntry[]> {
    return this.privacy.listPrivacyAudit(limit);
  }

  purgeExpired(brand: string, receivedBefore: number, limit: number): Promise<PurgeCounts | null> {
    return this.privacy.purgeExpired(brand, receivedBefore, limit);
  }

  async ping(): Promise<void> {
    this.stmt('ping').get();
  }

  async close(): Promise<void> {
    await this.release();
  }

  private stmt(name: keyof typeof SQL) {
    return this.database.statement(SQL[name]);
  }
}

/** received_at is ISO 8601 set by leadgate; fall back to now rather than store NaN. */
function receivedAtMs(lead: Lead, now: number): number {
  const ms = Date.parse(lead.received_at);
  return Number.isFinite(ms) ? ms : now;
}

/** Thrown inside a write to undo it: this attempt number was recorded already. */
class AlreadyRecorded extends Error {}
