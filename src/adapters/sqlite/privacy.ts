import type { Delivery, DeliveryStatus } from '../../domain/delivery.js';
import { leadFingerprints, leadIdentities, type PrivacyHasher } from '../../domain/fingerprint.js';
import { newId } from '../../domain/ids.js';
import { tombstone, type Lead, type StoredLead } from '../../domain/lead.js';
import {
  EMPTY_PURGE,
  summariseNotices,
  type Erasure,
  type ErasureStep,
  type NewErasure,
  type PrivacyAuditEntry,
  type PurgeCounts,
} from '../../ports/privacy-store.js';
import type { SqliteDatabase } from './database.js';
import { toDelivery, type DeliveryRow } from './rows.js';

/** The privacy operations of the SQLite store (see ports/privacy-store.ts), on its connection. */

const KEYED_HASHES = '005_keyed_hashes';
/** Leads rehashed per transaction by the code migration. */
const REHASH_BATCH = 1000;

const SQL = {
  leadsByIdentity: `SELECT l.data FROM leads l WHERE l.id IN (SELECT lead_id FROM lead_identities
      WHERE identity IN (SELECT value FROM json_each(?)) AND (? IS NULL OR brand = ?)) ORDER BY l.received_at, l.id`,
  insertErasure: `INSERT INTO privacy_erasures (id, identities, brand, status, leads, requested_at)
      VALUES (?, ?, ?, 'pending', 0, ?) ON CONFLICT (id) DO NOTHING`,
  getErasure: 'SELECT * FROM privacy_erasures WHERE id = ?',
  pendingErasures: `SELECT * FROM privacy_erasures WHERE status = 'pending' ORDER BY requested_at LIMIT ?`,
  notices: `SELECT destination, status, COUNT(*) AS count FROM deliveries WHERE erasure_id = ?
      GROUP BY destination, status`,
  nextLeads: `SELECT DISTINCT lead_id FROM lead_identities WHERE identity IN (SELECT value FROM json_each(?))
      AND (? IS NULL OR brand = ?) ORDER BY lead_id LIMIT ?`,
  leadRow: 'SELECT status, data FROM leads WHERE id = ?',
  deliveriesOf: 'SELECT id, destination, status, attempts, kind FROM deliveries WHERE lead_id = ?',
  cancelPending: `UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = ?
      WHERE lead_id = ? AND status = 'pending' AND kind = 'lead.created'`,
  clearResponses: `UPDATE attempts SET response_body = NULL WHERE response_body IS NOT NULL
      AND delivery_id IN (SELECT id FROM deliveries WHERE lead_id = ?)`,
  deleteIdentities: 'DELETE FROM lead_identities WHERE lead_id = ?',
  deleteFingerprints: 'DELETE FROM lead_fingerprints WHERE lead_id = ?',
  deleteKeys: 'DELETE FROM idempotency_keys WHERE lead_id = ?',
  eraseLead: `UPDATE leads SET status = 'erased', data = ? WHERE id = ?`,
  insertNotice: `INSERT INTO deliveries (id, lead_id, destination, status, attempts, cycle_attempts, next_attempt_at,
      created_at, updated_at, kind, erasure_id) VALUES (?, ?, ?, 'pending', 0, 0, ?, ?, ?, 'lead.erased', ?) RETURNING *`,
  countErased: 'UPDATE privacy_erasures SET leads = leads + ? WHERE id = ?',
  completeErasure: `UPDATE privacy_erasures SET status = 'done', completed_at = ? WHERE id = ? AND status = 'pending'`,
  insertAudit: `INSERT INTO privacy_audit (id, at, action, actor, identity, brand, leads, erasure_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  listAudit: 'SELECT * FROM privacy_audit ORDER BY at DESC, id DESC LIMIT ?',
  expiredLeads: 'SELECT id FROM leads WHERE brand = ? AND received_at < ? ORDER BY received_at LIMIT ?',
  purgeAttempts: `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE lead_id IN
      (SELECT value FROM json_each(?)))`,
  purgeDeliveries: 'DELETE FROM deliveries WHERE lead_id IN (SELECT value FROM json_each(?))',
  purgeFingerprints: 'DELETE FROM lead_fingerprints WHERE lead_id IN (SELECT value FROM json_each(?))',
  purgeIdentities: 'DELETE FROM lead_identities WHERE lead_id IN (SELECT value FROM json_each(?))',
  purgeKeys: 'DELETE FROM idempotency_keys WHERE lead_id IN (SELECT value FROM json_each(?))',
  purgeLeads: 'DELETE FROM leads WHERE id IN (SELECT value FROM json_each(?))',
  rehashState: 'SELECT cursor, done FROM code_migrations WHERE name = ?',
  rehashLeads: 'SELECT id, brand, status, data FROM leads WHERE id > ? ORDER BY id LIMIT ?',
  insertIdentity: 'INSERT OR IGNORE INTO lead_identities (identity, lead_id, brand) VALUES (?, ?, ?)',
  fingerprintTimes: 'SELECT received_at, expires_at FROM lead_fingerprints WHERE lead_id = ? LIMIT 1',
  insertFingerprint: 'INSERT INTO lead_fingerprints (fingerprint, received_at, lead_id, expires_at) VALUES (?, ?, ?, ?)',
  rehashProgress: 'UPDATE code_migrations SET cursor = ?, done = ? WHERE name = ?',
} as const;

interface ErasureRow {
  id: string;
  identities: string;
  brand: string | null;
  status: 'pending' | 'done';
  leads: number;
  requested_at: number;
  completed_at: number | null;
}

interface AuditRow {
  id: string;
  at: number;
  action: PrivacyAuditEntry['action'];
  actor: string;
  identity: string;
  brand: string | null;
  leads: number | null;
  erasure_id: string | null;
}

export class SqlitePrivacy {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly hasher: PrivacyHasher | undefined,
  ) {}

  /**
   * The code half of migration 006: the fingerprints of leads stored before it were plain
   * sha256; they are recomputed with the privacy key from the leads' data (keeping their times),
   * and every lead gets its identity rows. One transaction per batch, the cursor saved with it,
   * so a kill resumes where it stopped; running it twice (two processes) writes the same rows.
   */
  async migrateKeyedHashes(): Promise<void> {
    for (;;) {
      const state = this.stmt('rehashState').get(KEYED_HASHES) as { cursor: string | null; done: number } | undefined;
      if (!state || state.done === 1) return;
      const finished = await this.database.write(() => {
        const rows = this.stmt('rehashLeads').all(state.cursor ?? '', REHASH_BATCH) as Array<{
          id: string;
          brand: string;
          status: string;
          data: string;
        }>;
        if (rows.length > 0 && this.hasher === undefined) {
          throw new Error('LEADGATE_PRIVACY_KEY: needed to rehash the fingerprints of the stored leads');
        }
        for (const row of rows) {
          if (row.status === 'erased') continue;
          this.indexLead(JSON.parse(row.data) as Lead);
        }
        const last = rows[rows.length - 1]?.id ?? state.cursor;
        const done = rows.length < REHASH_BATCH;
        this.stmt('rehashProgress').run(last, done ? 1 : 0, KEYED_HASHES);
        return done;
      });
      if (finished) return;
    }
  }

  private indexLead(lead: Lead): void {
    const hasher = this.hasher!;
    for (const identity of leadIdentities(hasher, lead)) this.stmt('insertIdentity').run(identity, lead.id, lead.brand);
    const times = this.stmt('fingerprintTimes').get(lead.id) as { received_at: number; expires_at: number } | undefined;
    if (!times) return;
    this.stmt('deleteFingerprints').run(lead.id);
    for (const fingerprint of leadFingerprints(hasher, lead.brand, lead)) {
      this.stmt('insertFingerprint').run(fingerprint, times.received_at, lead.id, times.expires_at);
    }
  }

  /** Inside the ingest transaction. */
  insertIdentities(leadId: string, brand: string, identities: string[]): void {
    for (const identity of identities) this.stmt('insertIdentity').run(identity, leadId, brand);
  }

  async findLeadsByIdentity(identities: string[], brand?: string): Promise<StoredLead[]> {
    const b = brand ?? null;
    const rows = this.stmt('leadsByIdentity').all(JSON.stringify(identities), b, b) as Array<{ data: string }>;
    return rows.map((row) => JSON.parse(row.data) as StoredLead);
  }

  async createErasure(erasure: NewErasure): Promise<void> {
    await this.database.write(() =>
      this.stmt('insertErasure').run(erasure.id, JSON.stringify(erasure.identities), erasure.brand, erasure.requestedAt),
    );
  }

  async getErasure(id: string): Promise<Erasure | null> {
    const row = this.stmt('getErasure').get(id) as ErasureRow | undefined;
    return row ? this.toErasure(row) : null;
  }

  async pendingErasures(limit: number): Promise<Erasure[]> {
    return (this.stmt('pendingErasures').all(limit) as ErasureRow[]).map((row) => this.toErasure(row));
  }

  private toErasure(row: ErasureRow): Erasure {
    const notices = this.stmt('notices').all(row.id) as Array<{ destination: string; status: DeliveryStatus; count: number }>;
    return {
      id: row.id,
      identities: JSON.parse(row.identities) as string[],
      brand: row.brand,
      requestedAt: row.requested_at,
      status: row.status,
      leads: row.leads,
      completedAt: row.completed_at,
      notified: summariseNotices(notices),
    };
  }

  eraseNext(erasureId: string, limit: number, now: number): Promise<ErasureStep> {
    return this.database.write((): ErasureStep => {
      const row = this.stmt('getErasure').get(erasureId) as ErasureRow | undefined;
      if (!row || row.status === 'done') return { erased: 0, notices: [], done: true };
      const ids = this.stmt('nextLeads').all(row.identities, row.brand, row.brand, limit) as Array<{ lead_id: string }>;
      const notices: Delivery[] = [];
      let erased = 0;
      for (const { lead_id: leadId } of ids) {
        const step = this.eraseLead(leadId, erasureId, now);
        if (step === null) continue;
        erased += 1;
        notices.push(...step);
      }
      if (erased > 0) this.stmt('countErased').run(erased, erasureId);
      return { erased, notices, done: ids.length < limit };
    });
  }

  /** One lead, inside the erasure's transaction; null when there was nothing left to erase. */
  private eraseLead(leadId: string, erasureId: string, now: number): Delivery[] | null {
    const row = this.stmt('leadRow').get(leadId) as { status: string; data: string } | undefined;
    this.stmt('deleteIdentities').run(leadId);
    if (!row || row.status === 'erased') return null;
    const lead = JSON.parse(row.data) as Lead;
    const deliveries = this.stmt('deliveriesOf').all(leadId) as Array<Pick<DeliveryRow, 'id' | 'destination' | 'status' | 'attempts'> & { kind: string }>;
    this.stmt('cancelPending').run(now, leadId);
    this.stmt('clearResponses').run(leadId);
    this.stmt('deleteFingerprints').run(leadId);
    this.stmt('deleteKeys').run(leadId);
    this.stmt('eraseLead').run(JSON.stringify(tombstone(lead, now)), leadId);
    // Whoever may hold a copy: delivered, or attempted (a request that timed out may have arrived).
    const received = new Set(
      deliveries.filter((d) => d.kind === 'lead.created' && (d.status === 'delivered' || d.attempts > 0)).map((d) => d.destination),
    );
    return [...received].sort().map((destination) =>
      toDelivery(this.stmt('insertNotice').get(newId(), leadId, destination, now, now, now, erasureId) as DeliveryRow),
    );
  }

  async completeErasure(erasureId: string, now: number): Promise<boolean> {
    await this.database.write(() => this.stmt('completeErasure').run(now, erasureId));
    return this.database.checkpoint();
  }

  async recordPrivacyAudit(entry: PrivacyAuditEntry): Promise<void> {
    await this.database.write(() =>
      this.stmt('insertAudit').run(entry.id, entry.at, entry.action, entry.actor, entry.identity, entry.brand, entry.leads, entry.erasureId),
    );
  }

  async listPrivacyAudit(limit: number): Promise<PrivacyAuditEntry[]> {
    return (this.stmt('listAudit').all(limit) as AuditRow[]).map((row) => ({
      id: row.id,
      at: row.at,
      action: row.action,
      actor: row.actor,
      identity: row.identity,
      brand: row.brand,
      leads: row.leads,
      erasureId: row.erasure_id,
    }));
  }

  /** One short transaction: a bounded batch of leads and what hangs from them, children first. */
  purgeExpired(brand: string, receivedBefore: number, limit: number): Promise<PurgeCounts> {
    return this.database.write((): PurgeCounts => {
      const ids = (this.stmt('expiredLeads').all(brand, receivedBefore, limit) as Array<{ id: string }>).map((r) => r.id);
      if (ids.length === 0) return { ...EMPTY_PURGE };
      const list = JSON.stringify(ids);
      return {
        attempts: this.stmt('purgeAttempts').run(list).changes,
        deliveries: this.stmt('purgeDeliveries').run(list).changes,
        fingerprints: this.stmt('purgeFingerprints').run(list).changes,
        identities: this.stmt('purgeIdentities').run(list).changes,
        idempotency: this.stmt('purgeKeys').run(list).changes,
        leads: this.stmt('purgeLeads').run(list).changes,
      };
    });
  }

  private stmt(name: keyof typeof SQL) {
    return this.database.statement(SQL[name]);
  }
}
