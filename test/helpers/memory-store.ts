import type { Attempt, AttemptResult, Delivery } from '../../src/domain/delivery.js';
import { newId } from '../../src/domain/ids.js';
import { tombstone, type ErasedLead, type Lead, type StoredLead } from '../../src/domain/lead.js';
import {
  EMPTY_PURGE,
  summariseNotices,
  type Erasure,
  type ErasureStep,
  type NewErasure,
  type PrivacyAuditEntry,
  type PurgeCounts,
} from '../../src/ports/privacy-store.js';
import {
  InvalidCursorError,
  type AttemptCounts,
  type DeliveryFilter,
  type DeliveryPage,
  type DestinationState,
  type DestinationStats,
  type IngestCommand,
  type IngestResult,
  type LeadCounts,
  type LeadFilter,
  type LeadPage,
  type LeadStore,
  type ReplaySelector,
} from '../../src/ports/lead-store.js';

interface IdempotencyEntry {
  bodyHash: string;
  leadId: string;
  expiresAt: number;
}

/**
 * An in-memory LeadStore for HTTP and worker tests, following the port's documented
 * semantics. `down` makes every call fail; `failNext` fails the next n calls; `nextIngest`
 * forces the next ingest result (e.g. in_flight, which a synchronous store never produces).
 */
export class MemoryStore implements LeadStore {
  readonly leads = new Map<string, Lead>();
  readonly deliveries = new Map<string, Delivery>();
  readonly attempts = new Map<string, Attempt[]>();
  private readonly keys = new Map<string, IdempotencyEntry>();
  private readonly paused = new Set<string>();
  private readonly states = new Map<string, DestinationState>();
  /** Duplicate fingerprints, in ingest order. */
  private readonly fingerprints: Array<{ fingerprint: string; receivedAt: number; leadId: string }> = [];
  /** Tombstones of erased leads (kept apart so `leads` stays a map of whole leads for tests). */
  readonly erased = new Map<string, ErasedLead>();
  private readonly identities: Array<{ identity: string; leadId: string; brand: string }> = [];
  private readonly erasures = new Map<string, { record: NewErasure; status: 'pending' | 'done'; leads: number; completedAt: number | null }>();
  private readonly audit: PrivacyAuditEntry[] = [];
  /** Which erasure a lead.erased delivery announces. */
  private readonly noticeOf = new Map<string, string>();

  down = false;
  failNext = 0;
  nextIngest: IngestResult | null = null;
  ingestCalls = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private check(): void {
    if (this.down) throw new Error('memory store is down');
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('memory store failed');
    }
  }

  async migrate(): Promise<void> {
    this.check();
  }

  async ingest(command: IngestCommand): Promise<IngestResult> {
    this.check();
    this.ingestCalls += 1;
    if (this.nextIngest !== null) {
      const forced = this.nextIngest;
      this.nextIngest = null;
      return forced;
    }
    const at = this.now();
    const { lead, idempotency } = command;
    const scopedKey = idempotency ? `${lead.brand}\u0000${idempotency.key}` : null;
    if (scopedKey !== null && idempotency) {
      const existing = this.keys.get(scopedKey);
      if (existing && existing.expiresAt > at) {
        return existing.bodyHash === idempotency.bodyHash
          ? { kind: 'replayed', leadId: existing.leadId }
          : { kind: 'key_reused' };
      }
      this.keys.set(scopedKey, { bodyHash: idempotency.bodyHash, leadId: lead.id, expiresAt: idempotency.expiresAt });
    }
    this.leads.set(lead.id, structuredClone(lead));
    const receivedAt = Date.parse(lead.received_at);
    for (const fingerprint of command.fingerprints?.values ?? []) {
      this.fingerprints.push({ fingerprint, receivedAt, leadId: lead.id });
    }
    for (const identity of new Set(command.identities ?? [])) this.identities.push({ identity, leadId: lead.id, brand: lead.brand });
    for (const d of command.deliveries) {
      this.deliveries.set(d.id, {
        id: d.id,
        leadId: lead.id,
        destination: d.destination,
        status: 'pending',
        attempts: 0,
        cycleAttempts: 0,
        lastStatusCode: null,
        lastError: null,
        // As the real stores do: a delivery is created, and due, when its lead was received.
        nextAttemptAt: receivedAt,
        deliveredAt: null,
        createdAt: receivedAt,
        updatedAt: receivedAt,
      });
      this.attempts.set(d.id, []);
    }
    return { kind: 'created', leadId: lead.id };
  }

  async findDuplicate(fingerprints: string[], since: number): Promise<string | null> {
    this.check();
    let latest: { receivedAt: number; leadId: string } | null = null;
    for (const entry of this.fingerprints) {
      if (!fingerprints.includes(entry.fingerprint) || entry.receivedAt < since) continue;
      if (!latest || entry.receivedAt > latest.receivedAt || (entry.receivedAt === latest.receivedAt && entry.leadId > latest.leadId)) {
        latest = entry;
      }
    }
    return latest?.leadId ?? null;
  }

  async getLead(id: string): Promise<StoredLead | null> {
    this.check();
    const lead = this.leads.get(id) ?? this.erased.get(id);
    return lead ? structuredClone(lead) : null;
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    this.check();
    const d = this.deliveries.get(id);
    return d ? { ...d } : null;
  }

  async listDeliveriesOfLead(leadId: string): Promise<Delivery[]> {
    this.check();
    return this.sorted().filter((d) => d.leadId === leadId);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    this.check();
    return (this.attempts.get(deliveryId) ?? []).map((a) => ({ ...a }));
  }

  /** Keyset pagination on (createdAt, id): stable while rows are added. */
  async listDeliveries(filter: DeliveryFilter): Promise<DeliveryPage> {
    this.check();
    let after: { c: number; i: string } | null = null;
    if (filter.cursor !== undefined) {
      try {
        after = JSON.parse(Buffer.from(filter.cursor, 'base64url').toString('utf8')) as { c: number; i: string };
      } catch {
        throw new InvalidCursorError();
      }
      if (typeof after?.c !== 'number' || typeof after.i !== 'string') throw new InvalidCursorError();
    }
    const rows = this.sorted().filter(
      (d) =>
        (filter.status === undefined || d.status === filter.status) &&
        (filter.destination === undefined || d.destination === filter.destination) &&
        (filter.since === undefined || d.updatedAt >= filter.since) &&
        (filter.until === undefined || d.updatedAt <= filter.until) &&
        (after === null || d.createdAt > after.c || (d.createdAt === after.c && d.id > after.i)),
    );
    const limit = Math.min(500, Math.max(1, Math.trunc(filter.limit) || 1));
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last
        ? Buffer.from(JSON.stringify({ c: last.createdAt, i: last.id })).toString('base64url')
        : null;
    return { items, nextCursor };
  }

  async recordAttempt(result: AttemptResult): Promise<boolean> {
    this.check();
    const d = this.deliveries.get(result.attempt.deliveryId);
    if (!d || d.status !== 'pending') return false;
    const history = this.attempts.get(d.id) ?? [];
    if (history.some((a) => a.number === result.attempt.number)) return false;
    const at = this.now();
    d.attempts += 1;
    if (!result.keepsSchedule) d.cycleAttempts += 1;
    d.status = result.status;
    d.lastStatusCode = result.attempt.statusCode;
    d.lastError = result.attempt.error;
    d.nextAttemptAt = result.status === 'pending' ? result.nextAttemptAt : null;
    d.deliveredAt = result.status === 'delivered' ? at : null;
    d.updatedAt = at;
    this.attempts.get(d.id)?.push({ ...result.attempt });
    return true;
  }

  async replay(selector: ReplaySelector): Promise<Delivery[]> {
    this.check();
    const at = this.now();
    // Never a cancelled delivery, nor the lead.created of an erased lead.
    const replayable = (d: Delivery) => d.status !== 'cancelled' && (d.kind === 'lead.erased' || !this.erased.has(d.leadId));
    const chosen =
      'deliveryId' in selector
        ? [this.deliveries.get(selector.deliveryId)].filter((d): d is Delivery => d !== undefined && replayable(d))
        : [...this.deliveries.values()].filter(replayable).filter(
            (d) =>
              d.destination === selector.destination &&
              d.status === 'dead' &&
              (selector.since === undefined || d.updatedAt >= selector.since) &&
              (selector.until === undefined || d.updatedAt <= selector.until),
          );
    for (const d of chosen) {
      d.status = 'pending';
      d.cycleAttempts = 0;
      d.nextAttemptAt = at;
      d.deliveredAt = null;
      d.updatedAt = at;
    }
    return chosen.map((d) => ({ ...d }));
  }

  async findDue(now: number, limit: number): Promise<Delivery[]> {
    this.check();
    return [...this.deliveries.values()]
      .filter((d) => d.status === 'pending' && d.nextAttemptAt !== null && d.nextAttemptAt <= now)
      .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0))
      .slice(0, limit)
      .map((d) => ({ ...d }));
  }

  async stats(): Promise<DestinationStats[]> {
    this.check();
    const byDestination = new Map<string, DestinationStats>();
    for (const d of this.deliveries.values()) {
      const s = byDestination.get(d.destination) ?? { destination: d.destination, pending: 0, dead: 0, oldestPendingCreatedAt: null };
      if (d.status === 'pending') {
        s.pending += 1;
        s.oldestPendingCreatedAt = Math.min(s.oldestPendingCreatedAt ?? d.createdAt, d.createdAt);
      }
      if (d.status === 'dead') s.dead += 1;
      byDestination.set(d.destination, s);
    }
    return [...byDestination.values()];
  }

  async setDestinationPaused(destination: string, paused: boolean, actor?: string): Promise<void> {
    this.check();
    if (paused) this.paused.add(destination);
    else this.paused.delete(destination);
    this.states.set(destination, { destination, paused, changedAt: this.now(), changedBy: actor ?? null });
  }

  async destinationStates(): Promise<DestinationState[]> {
    this.check();
    return [...this.states.values()].sort((a, b) => a.destination.localeCompare(b.destination)).map((s) => ({ ...s }));
  }

  /** Newest first on (received_at, id); the cursor is the last lead's pair. */
  async listLeads(filter: LeadFilter): Promise<LeadPage> {
    this.check();
    let after: { r: number; i: string } | null = null;
    if (filter.cursor !== undefined) {
      try {
        after = JSON.parse(Buffer.from(filter.cursor, 'base64url').toString('utf8')) as { r: number; i: string };
      } catch {
        throw new InvalidCursorError();
      }
      if (typeof after?.r !== 'number' || typeof after.i !== 'string') throw new InvalidCursorError();
    }
    const at = (lead: Lead) => Date.parse(lead.received_at);
    const rows = [...this.leads.values()]
      .filter(
        (l) =>
          l.brand === filter.brand &&
          (filter.status === undefined || l.status === filter.status) &&
          (filter.since === undefined || at(l) >= filter.since) &&
          (filter.until === undefined || at(l) <= filter.until) &&
          (after === null || at(l) < after.r || (at(l) === after.r && l.id < after.i)),
      )
      .sort((a, b) => at(b) - at(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const limit = Math.min(500, Math.max(1, Math.trunc(filter.limit) || 1));
    const items = rows.slice(0, limit).map((l) => structuredClone(l));
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last ? Buffer.from(JSON.stringify({ r: at(last), i: last.id })).toString('base64url') : null;
    return { items, nextCursor };
  }

  async countLeads(brand: string, since: number): Promise<LeadCounts> {
    this.check();
    const counts: LeadCounts = {};
    for (const lead of this.leads.values()) {
      if (lead.brand !== brand || Date.parse(lead.received_at) < since) continue;
      counts[lead.status] = (counts[lead.status] ?? 0) + 1;
    }
    return counts;
  }

  async attemptCounts(since: number): Promise<AttemptCounts[]> {
    this.check();
    const byDestination = new Map<string, AttemptCounts>();
    for (const [deliveryId, attempts] of this.attempts) {
      const destination = this.deliveries.get(deliveryId)?.destination;
      if (destination === undefined) continue;
      for (const attempt of attempts) {
        if (attempt.startedAt < since) continue;
        const counts = byDestination.get(destination) ?? { destination, delivered: 0, retry: 0, dead: 0 };
        counts[attempt.outcome] += 1;
        byDestination.set(destination, counts);
      }
    }
    return [...byDestination.values()];
  }

  async pausedDestinations(): Promise<string[]> {
    this.check();
    return [...this.paused].sort();
  }

  async findLeadsByIdentity(identities: string[], brand?: string): Promise<StoredLead[]> {
    this.check();
    const ids = new Set(
      this.identities.filter((row) => identities.includes(row.identity) && (brand === undefined || row.brand === brand)).map((row) => row.leadId),
    );
    return [...ids]
      .map((id) => (this.leads.get(id) ?? this.erased.get(id))!)
      .filter((lead) => lead !== undefined)
      .sort((a, b) => a.received_at.localeCompare(b.received_at) || (a.id < b.id ? -1 : 1))
      .map((lead) => structuredClone(lead));
  }

  async createErasure(erasure: NewErasure): Promise<void> {
    this.check();
    if (!this.erasures.has(erasure.id)) this.erasures.set(erasure.id, { record: { ...erasure }, status: 'pending', leads: 0, completedAt: null });
  }

  async getErasure(id: string): Promise<Erasure | null> {
    this.check();
    const entry = this.erasures.get(id);
    if (!entry) return null;
    const counts = new Map<string, { destination: string; status: Delivery['status']; count: number }>();
    for (const d of this.deliveries.values()) {
      if (this.noticeOf.get(d.id) !== id) continue;
      const key = `${d.destination}\u0000${d.status}`;
      const row = counts.get(key) ?? { destination: d.destination, status: d.status, count: 0 };
      row.count += 1;
      counts.set(key, row);
    }
    return { ...entry.record, status: entry.status, leads: entry.leads, completedAt: entry.completedAt, notified: summariseNotices([...counts.values()]) };
  }

  async pendingErasures(limit: number): Promise<Erasure[]> {
    this.check();
    const pending = [...this.erasures.values()].filter((e) => e.status === 'pending').sort((a, b) => a.record.requestedAt - b.record.requestedAt);
    return Promise.all(pending.slice(0, limit).map(async (e) => (await this.getErasure(e.record.id))!));
  }

  async eraseNext(erasureId: string, limit: number, now: number): Promise<ErasureStep> {
    this.check();
    const entry = this.erasures.get(erasureId);
    if (!entry || entry.status === 'done') return { erased: 0, notices: [], done: true };
    const { identities, brand } = entry.record;
    const ids = [...new Set(this.identities.filter((r) => identities.includes(r.identity) && (brand === null || r.brand === brand)).map((r) => r.leadId))]
      .sort()
      .slice(0, limit);
    const notices: Delivery[] = [];
    let erased = 0;
    for (const leadId of ids) {
      this.removeIndex(leadId);
      const lead = this.leads.get(leadId);
      if (!lead) continue;
      const deliveries = [...this.deliveries.values()].filter((d) => d.leadId === leadId);
      const received = new Set<string>();
      for (const d of deliveries) {
        if (d.kind === 'lead.erased') continue;
        if (d.status === 'delivered' || d.attempts > 0) received.add(d.destination);
        if (d.status === 'pending') Object.assign(d, { status: 'cancelled', nextAttemptAt: null, updatedAt: now });
        for (const attempt of this.attempts.get(d.id) ?? []) attempt.responseBody = null;
      }
      for (const [key, entry] of this.keys) if (entry.leadId === leadId) this.keys.delete(key);
      this.leads.delete(leadId);
      this.erased.set(leadId, tombstone(lead, now));
      for (const destination of [...received].sort()) {
        const notice: Delivery = {
          id: newId(), leadId, destination, status: 'pending', kind: 'lead.erased', attempts: 0, cycleAttempts: 0,
          lastStatusCode: null, lastError: null, nextAttemptAt: now, deliveredAt: null, createdAt: now, updatedAt: now,
        };
        this.deliveries.set(notice.id, notice);
        this.attempts.set(notice.id, []);
        this.noticeOf.set(notice.id, erasureId);
        notices.push({ ...notice });
      }
      erased += 1;
    }
    entry.leads += erased;
    return { erased, notices, done: ids.length < limit };
  }

  async completeErasure(erasureId: string, now: number): Promise<boolean> {
    this.check();
    const entry = this.erasures.get(erasureId);
    if (entry && entry.status === 'pending') Object.assign(entry, { status: 'done', completedAt: now });
    return true;
  }

  async recordPrivacyAudit(entry: PrivacyAuditEntry): Promise<void> {
    this.check();
    this.audit.push({ ...entry });
  }

  async listPrivacyAudit(limit: number): Promise<PrivacyAuditEntry[]> {
    this.check();
    return [...this.audit].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(0, limit).map((e) => ({ ...e }));
  }

  async purgeExpired(brand: string, receivedBefore: number, limit: number): Promise<PurgeCounts | null> {
    this.check();
    const counts: PurgeCounts = { ...EMPTY_PURGE };
    const expired = [...this.leads.values(), ...this.erased.values()]
      .filter((l) => l.brand === brand && Date.parse(l.received_at) < receivedBefore)
      .sort((a, b) => Date.parse(a.received_at) - Date.parse(b.received_at))
      .slice(0, limit);
    for (const lead of expired) {
      for (const d of [...this.deliveries.values()].filter((x) => x.leadId === lead.id)) {
        counts.attempts += this.attempts.get(d.id)?.length ?? 0;
        this.attempts.delete(d.id);
        this.deliveries.delete(d.id);
        this.noticeOf.delete(d.id);
        counts.deliveries += 1;
      }
      const removed = this.removeIndex(lead.id);
      counts.fingerprints += removed.fingerprints;
      counts.identities += removed.identities;
      for (const [key, entry] of this.keys) {
        if (entry.leadId !== lead.id) continue;
        this.keys.delete(key);
        counts.idempotency += 1;
      }
      this.leads.delete(lead.id);
      this.erased.delete(lead.id);
      counts.leads += 1;
    }
    return counts;
  }

  /** Drops a lead's identity rows and fingerprints; says how many of each. */
  private removeIndex(leadId: string): { fingerprints: number; identities: number } {
    const before = { fingerprints: this.fingerprints.length, identities: this.identities.length };
    for (let i = this.fingerprints.length - 1; i >= 0; i--) if (this.fingerprints[i]!.leadId === leadId) this.fingerprints.splice(i, 1);
    for (let i = this.identities.length - 1; i >= 0; i--) if (this.identities[i]!.leadId === leadId) this.identities.splice(i, 1);
    return { fingerprints: before.fingerprints - this.fingerprints.length, identities: before.identities - this.identities.length };
  }

  async ping(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {}

  private sorted(): Delivery[] {
    return [...this.deliveries.values()]
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((d) => ({ ...d }));
  }
}
