import type { BrandConfig, LeadgateConfig } from '../domain/config.js';
import type { NewDelivery } from '../domain/delivery.js';
import { leadFingerprints } from '../domain/fingerprint.js';
import { newId } from '../domain/ids.js';
import type { Lead, LeadInput } from '../domain/lead.js';
import { normaliseLead, type NormaliseIssue } from '../domain/normalise.js';
import { routeLead } from '../domain/routing.js';
import { errorSummary } from '../observability/error-summary.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { IngestCommand, LeadStore } from '../ports/lead-store.js';

/** How long an Idempotency-Key holds (CONTRACT: "within 24 h"). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The two levels the use case logs at; a request's logger or the process logger. */
export type LogSink = Pick<Logger, 'info' | 'warn'>;

/** One lead as the edge received it, already authenticated and schema-checked. */
export interface LeadSubmission {
  brand: BrandConfig;
  body: LeadInput;
  /** The Idempotency-Key and the sha256 of the raw body it must match, or null. */
  idempotency: { key: string; bodyHash: string } | null;
  /** The caller's logger (it carries the request id). */
  log: LogSink;
}

/** What happened to a submission; the edge maps each kind to its answer. */
export type AcceptResult =
  | { kind: 'created'; leadId: string }
  /** Same brand, key and body as an earlier request: nothing was created. */
  | { kind: 'replayed'; leadId: string }
  | { kind: 'in_flight' }
  | { kind: 'key_reused' }
  | { kind: 'invalid'; issues: NormaliseIssue[] }
  /** The store or the queue cannot be reached: nothing is promised. */
  | { kind: 'unavailable' };

export interface AcceptLeadDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  now: () => number;
}

/**
 * The ingest use case, the twin of worker/delivery-handler.ts:
 * normalise → find duplicates → route → persist (lead + deliveries, one transaction) → enqueue.
 * `created` is returned only once the lead is durable.
 */
export function createLeadAcceptor(deps: AcceptLeadDeps): (submission: LeadSubmission) => Promise<AcceptResult> {
  const { config, store, queue, metrics, now } = deps;

  // After a failed enqueue the queue is suspect: rather than keep accepting leads that only
  // the sweeper would announce, check it before persisting and refuse while it is down.
  // Healthy, this costs nothing; a lead persisted before the failure is still accepted.
  let queueSuspect = false;
  const queueReachable = async (log: LogSink): Promise<boolean> => {
    if (!queueSuspect) return true;
    try {
      await queue.ping();
      queueSuspect = false;
      return true;
    } catch (err) {
      log.warn({ err: errorSummary(err) }, 'queue unavailable');
      return false;
    }
  };

  return async function acceptLead({ brand, body, idempotency, log }): Promise<AcceptResult> {
    const normalised = normaliseLead(body, brand.defaultCountry);
    if (!normalised.ok) return { kind: 'invalid', issues: normalised.issues };

    const receivedAt = now();
    const window = brand.duplicateWindowMs;
    const fingerprints = window === null ? [] : leadFingerprints(brand.id, normalised.lead);
    let duplicateOf: string | null = null;
    try {
      // Looked up before routing, because a route's forward_duplicates decides the deliveries;
      // the race this leaves between two simultaneous duplicates is described at findDuplicate.
      if (fingerprints.length > 0) duplicateOf = await store.findDuplicate(fingerprints, receivedAt - (window ?? 0));
    } catch (err) {
      log.warn({ err: errorSummary(err) }, 'store unavailable');
      return { kind: 'unavailable' };
    }

    const destinations = routeLead(config.routes, brand.id, normalised.lead, { duplicate: duplicateOf !== null });
    const lead: Lead = {
      id: newId(),
      brand: brand.id,
      received_at: new Date(receivedAt).toISOString(),
      status: destinations.length > 0 ? 'routed' : 'unrouted',
      ...normalised.lead,
      ...(duplicateOf !== null ? { duplicate_of: duplicateOf } : {}),
    };
    const deliveries: NewDelivery[] = destinations.map((destination) => ({ id: newId(), destination }));
    const command: IngestCommand = { lead, deliveries };
    if (window !== null && fingerprints.length > 0) {
      command.fingerprints = { values: fingerprints, expiresAt: receivedAt + window };
    }
    if (idempotency !== null) command.idempotency = { ...idempotency, expiresAt: receivedAt + IDEMPOTENCY_TTL_MS };

    if (!(await queueReachable(log))) return { kind: 'unavailable' };
    let result;
    try {
      result = await store.ingest(command);
    } catch (err) {
      log.warn({ err: errorSummary(err) }, 'store unavailable');
      return { kind: 'unavailable' };
    }
    if (result.kind !== 'created') return result;

    // Only now is the lead durable; the queue is a hint, the sweeper covers a failed enqueue.
    if (deliveries.length > 0) {
      try {
        await queue.enqueue(deliveries.map((d) => ({ deliveryId: d.id, runAt: receivedAt })));
      } catch (err) {
        queueSuspect = true;
        log.warn({ err: errorSummary(err), leadId: result.leadId }, 'enqueue failed, sweeper will pick up');
      }
    }
    metrics.leadsAccepted.inc({ brand: brand.id });
    if (deliveries.length === 0) metrics.leadsUnrouted.inc({ brand: brand.id });
    if (duplicateOf !== null) metrics.leadsDuplicate.inc({ brand: brand.id });
    log.info(
      {
        leadId: result.leadId,
        brand: brand.id,
        deliveries: deliveries.length,
        unrouted: deliveries.length === 0,
        duplicateOf: duplicateOf ?? undefined,
      },
      'lead accepted',
    );
    return result;
  };
}
