import type { Attempt, AttemptResult, Delivery } from '../../domain/delivery.js';
import type { Lead } from '../../domain/lead.js';
import type {
  DeliveryFilter,
  DeliveryPage,
  DestinationStats,
  IngestCommand,
  IngestResult,
  LeadStore,
  ReplaySelector,
} from '../../ports/lead-store.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import {
  clampLimit,
  decodeCursor,
  encodeCursor,
  toAttempt,
  toDelivery,
  toLead,
  type AttemptRow,
  type DeliveryRow,
  type LeadRow,
} from '../sqlite/rows.js';

export interface SqliteLeadStoreOptions {
  /** Clock, for tests. */
  now?: () => number;
}

/** Expired idempotency keys and fingerprints are pruned every this many ingests. */
const PRUNE_EVERY = 256;

/** The reads; every write is an operation of write-ops.ts, run by the writer thread. */
const SQL = {
  latestFingerprint: `SELECT lead_id, received_at FROM lead_fingerprints WHERE fingerprint = ? AND received_at >= ?
      ORDER BY received_at DESC, lead_id DESC LIMIT 1`,
  getLead: 'SELECT data FROM leads WHERE id = ?',
  getDelivery: 'SELECT * FROM deliveries WHERE id = ?',
  deliveriesOfLead: 'SELECT * FROM deliveries WHERE lead_id = ? ORDER BY id',
  attemptsOf: 'SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number',
  findDue: `SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?
      ORDER BY next_attempt_at LIMIT ?`,
  stats: `SELECT destination,
        SUM(status = 'pending') AS pending,
        SUM(status = 'dead') AS dead,
        MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest
      FROM deliveries WHERE status IN ('pending', 'dead') GROUP BY destination ORDER BY destination`,
  ping: 'SELECT 1',
  paused: 'SELECT destination FROM destination_state WHERE paused = 1 ORDER BY destination',
} as const;

/**
 * LeadStore on the embedded SQLite database. Every write goes through the group-commit
 * writer, so it resolves only after its transaction committed.
 */
export class SqliteLeadStore implements LeadStore {
  private readonly now: () => number;
  private readonly release: () => Promise<void>;
  private ingests = 0;

  constructor(
    private readonly database: SqliteDatabase,
    options: SqliteLeadStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.release = database.acquire();
  }

  async migrate(): Promise<void> {
    this.database.migrate();
  }

  /**
   * The key check and the inserts run in one transaction (write-ops.ts `ingest`), so
   * `in_flight` never arises here: even two ingests in the same batch give one `created` and
   * one `replayed`.
   */
  ingest(command: IngestCommand): Promise<IngestResult> {
    const { lead, deliveries, idempotency, fingerprints } = command;
    const now = this.now();
    return this.database.write('ingest', {
      leadId: lead.id,
      brand: lead.brand,
      status: lead.status,
      receivedAt: receivedAtMs(lead, now),
      data: JSON.stringify(lead),
      deliveries,
      ...(idempotency ? { idempotency } : {}),
      ...(fingerprints ? { fingerprints } : {}),
      now,
      prune: ++this.ingests % PRUNE_EVERY === 0,
    });
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

  async getLead(id: string): Promise<Lead | null> {
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
    if (filter.cursor !== undefined) {
      where.push('id > ?');
      params.push(decodeCursor(filter.cursor));
    }
    // Only the shape varies (at most 8 texts), so the statement cache stays small.
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
    return this.database.write('recordAttempt', { ...result, now: this.now() });
  }

  async replay(selector: ReplaySelector): Promise<Delivery[]> {
    const now = this.now();
    const rows = await this.database.write(
      'replay',
      'deliveryId' in selector
        ? { deliveryId: selector.deliveryId, now }
        : { destination: selector.destination, since: selector.since, until: selector.until, now },
    );
    return rows.map(toDelivery).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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

  async setDestinationPaused(destination: string, paused: boolean): Promise<void> {
    await this.database.write('setPaused', { destination, paused, now: this.now() });
  }

  async pausedDestinations(): Promise<string[]> {
    return (this.stmt('paused').all() as Array<{ destination: string }>).map((row) => row.destination);
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

