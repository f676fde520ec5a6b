import type { LeadgateConfig } from '../domain/config.js';
import { identityHash, type PrivacyHasher } from '../domain/fingerprint.js';
import { newId } from '../domain/ids.js';
import { leadView } from '../views/lead-views.js';
import type { Logger } from '../observability/logger.js';
import type { LeadStore } from '../ports/lead-store.js';
import type { Erasure, PrivacyAuditEntry } from '../ports/privacy-store.js';
import { normaliseIdentifier, type PersonRequest } from './identifier.js';

/**
 * The privacy use cases (GDPR art. 15 and 17), called by the admin API, the CLI and the
 * console alike: they normalise the identifier as ingest does, hash it with the privacy key,
 * and leave an audit record (a table and a log line) that never holds the identifier in clear.
 */
export interface PrivacyDeps {
  config: LeadgateConfig;
  store: LeadStore;
  hasher: PrivacyHasher;
  logger: Pick<Logger, 'info'>;
  now: () => number;
}

/** Who asked: `admin-token` over HTTP, `cli` from the command line, the console's session later. */
export type Actor = string;

export type Invalid = { kind: 'invalid'; path: string; message: string };

export type ExportResult = Invalid | { kind: 'ok'; body: PersonExport };

export interface PersonExport {
  /** When the export was made (ISO 8601). */
  exported_at: string;
  leads: Array<ReturnType<typeof leadView>>;
}

/** Every lead of the person with its deliveries and attempts (GDPR art. 15). */
export async function exportPerson(deps: PrivacyDeps, request: PersonRequest, actor: Actor): Promise<ExportResult> {
  const parsed = normaliseIdentifier(deps.config, request);
  if (!parsed.ok) return { kind: 'invalid', path: parsed.path, message: parsed.message };
  const identity = identityHash(deps.hasher, parsed.identifier);
  const leads = await deps.store.findLeadsByIdentity([identity], parsed.brand ?? undefined);
  const views = [];
  for (const lead of leads) {
    const deliveries = await deps.store.listDeliveriesOfLead(lead.id);
    const withAttempts = await Promise.all(deliveries.map(async (delivery) => ({ delivery, attempts: await deps.store.listAttempts(delivery.id) })));
    views.push(leadView(lead, withAttempts));
  }
  await audit(deps, { action: 'export', actor, identity, brand: parsed.brand, leads: views.length, erasureId: null });
  return { kind: 'ok', body: { exported_at: new Date(deps.now()).toISOString(), leads: views } };
}

export type ErasureRequestResult = Invalid | { kind: 'accepted'; id: string };

/**
 * Records the erasure (durable, pending) and returns its id; a runner (erasure-runner.ts) does
 * the work, and resumes it after a restart. The record holds the identity hash only.
 */
export async function requestErasure(deps: PrivacyDeps, request: PersonRequest, actor: Actor): Promise<ErasureRequestResult> {
  const parsed = normaliseIdentifier(deps.config, request);
  if (!parsed.ok) return { kind: 'invalid', path: parsed.path, message: parsed.message };
  const identity = identityHash(deps.hasher, parsed.identifier);
  const id = newId();
  await deps.store.createErasure({ id, identities: [identity], brand: parsed.brand, requestedAt: deps.now() });
  await audit(deps, { action: 'erasure_requested', actor, identity, brand: parsed.brand, leads: null, erasureId: id });
  return { kind: 'accepted', id };
}

/** `{status, leads, notified}` as the API shows an erasure; null when unknown. */
export async function erasureStatus(deps: Pick<PrivacyDeps, 'store'>, id: string): Promise<ErasureView | null> {
  const erasure = await deps.store.getErasure(id);
  return erasure === null ? null : erasureView(erasure);
}

export interface ErasureView {
  id: string;
  status: 'pending' | 'done';
  brand: string | null;
  leads: number;
  requested_at: string;
  completed_at: string | null;
  notified: Array<{ destination: string; status: string; count: number }>;
}

export function erasureView(erasure: Erasure): ErasureView {
  return {
    id: erasure.id,
    status: erasure.status,
    brand: erasure.brand,
    leads: erasure.leads,
    requested_at: new Date(erasure.requestedAt).toISOString(),
    completed_at: erasure.completedAt === null ? null : new Date(erasure.completedAt).toISOString(),
    notified: erasure.notified,
  };
}

/** GDPR art. 30: the record in the store, and the same as a log line (`privacy audit`). */
export async function audit(deps: Pick<PrivacyDeps, 'store' | 'logger' | 'now'>, entry: Omit<PrivacyAuditEntry, 'id' | 'at'>): Promise<void> {
  const record: PrivacyAuditEntry = { id: newId(), at: deps.now(), ...entry };
  await deps.store.recordPrivacyAudit(record);
  deps.logger.info(
    { audit: true, action: `privacy ${record.action}`, actor: record.actor, identity: record.identity, brand: record.brand ?? undefined, leads: record.leads ?? undefined, erasureId: record.erasureId ?? undefined },
    'privacy audit',
  );
}
