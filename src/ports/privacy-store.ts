import type { Delivery, DeliveryStatus } from '../domain/delivery.js';
import type { StoredLead } from '../domain/lead.js';

/**
 * The privacy side of the store (GDPR art. 15, 17, 19, 30 and retention): find a person's
 * leads by the keyed hash of an identifier, erase them as a durable job, keep an audit trail,
 * purge what outlived its retention. Part of LeadStore; every adapter passes the privacy cases
 * of test/contract/lead-store.contract.ts.
 */
export interface PrivacyStore {
  /**
   * Every lead indexed under one of these identity hashes (domain/fingerprint.ts), of `brand`
   * when given, oldest first. An index lookup, never a scan. Erased leads are no longer indexed.
   */
  findLeadsByIdentity(identities: string[], brand?: string): Promise<StoredLead[]>;

  /** Records an erasure request, pending; durable once resolved. The record holds hashes only. */
  createErasure(erasure: NewErasure): Promise<void>;
  getErasure(id: string): Promise<Erasure | null>;
  /** Pending erasures, oldest first: what a runner resumes after a restart. */
  pendingErasures(limit: number): Promise<Erasure[]>;

  /**
   * Erases up to `limit` of the erasure's leads, each completely or not at all: personal fields
   * replaced by the tombstone, attempts' response bodies, idempotency records, fingerprints and
   * identity rows removed, pending deliveries cancelled, and one pending `lead.erased` delivery
   * created per destination that received the lead (delivered, or attempted: a timed-out
   * request may have arrived). Safe to run twice and from two processes. `done` once no lead
   * of the person is left; the new deliveries are returned to be enqueued.
   */
  eraseNext(erasureId: string, limit: number, now: number): Promise<ErasureStep>;

  /**
   * Marks the erasure done, then makes sure the erased bytes are gone from the store's files
   * (SQLite: secure_delete is on; the WAL is checkpointed and truncated). False when that
   * could not be finished now (another process was reading the WAL): the next checkpoint does.
   */
  completeErasure(erasureId: string, now: number): Promise<boolean>;

  /** Appends an audit record of an export or an erasure (no identifier in clear). */
  recordPrivacyAudit(entry: PrivacyAuditEntry): Promise<void>;
  listPrivacyAudit(limit: number): Promise<PrivacyAuditEntry[]>;

  /**
   * Deletes up to `limit` leads of `brand` received before `receivedBefore` (epoch ms), with
   * their deliveries, attempts, fingerprints, identity rows and idempotency records; one short
   * transaction. Returns what it deleted by kind, or null when the store expires records on its
   * own (DynamoDB: a TTL attribute on every item written for a lead).
   */
  purgeExpired(brand: string, receivedBefore: number, limit: number): Promise<PurgeCounts | null>;
}

export interface NewErasure {
  id: string;
  /** Identity hashes of the person (domain/fingerprint.ts identityHash). */
  identities: string[];
  /** Only this brand's leads; null = every brand. */
  brand: string | null;
  requestedAt: number;
}

export interface Erasure extends NewErasure {
  status: 'pending' | 'done';
  /** Leads erased so far. */
  leads: number;
  completedAt: number | null;
  /** Per destination: the `lead.erased` notices and how far they got. */
  notified: Array<{ destination: string; status: DeliveryStatus; count: number }>;
}

export interface ErasureStep {
  erased: number;
  notices: Delivery[];
  done: boolean;
}

export interface PrivacyAuditEntry {
  id: string;
  at: number;
  action: 'export' | 'erasure_requested' | 'erasure_done';
  /** `admin-token` (HTTP) or `cli`. */
  actor: string;
  /** Keyed hash of the identifier: the request can be matched to a person only with the key. */
  identity: string;
  brand: string | null;
  leads: number | null;
  erasureId: string | null;
}

export type PurgeKind = 'leads' | 'deliveries' | 'attempts' | 'fingerprints' | 'identities' | 'idempotency';
export type PurgeCounts = Record<PurgeKind, number>;

export const EMPTY_PURGE: PurgeCounts = { leads: 0, deliveries: 0, attempts: 0, fingerprints: 0, identities: 0, idempotency: 0 };

/** How the `notified` entries of an erasure read: the least advanced status wins. */
export function summariseNotices(rows: Array<{ destination: string; status: DeliveryStatus; count: number }>): Erasure['notified'] {
  const byDestination = new Map<string, { status: DeliveryStatus; count: number }>();
  const rank: Record<DeliveryStatus, number> = { pending: 0, dead: 1, cancelled: 2, delivered: 3 };
  for (const row of rows) {
    const seen = byDestination.get(row.destination);
    if (!seen) byDestination.set(row.destination, { status: row.status, count: row.count });
    else byDestination.set(row.destination, { status: rank[row.status] < rank[seen.status] ? row.status : seen.status, count: seen.count + row.count });
  }
  return [...byDestination.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([destination, v]) => ({ destination, ...v }));
}
