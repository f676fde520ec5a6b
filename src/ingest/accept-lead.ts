import { spamReason } from '../domain/bot-check.js';
import { truncateIp } from '../domain/client-ip.js';
import type { BrandConfig, LeadgateConfig } from '../domain/config.js';
import type { NewDelivery } from '../domain/delivery.js';
import { leadFingerprints, leadIdentities, type PrivacyHasher } from '../domain/fingerprint.js';
import { newId } from '../domain/ids.js';
import type { Lead, LeadInput, Proof } from '../domain/lead.js';
import { normaliseLead, type NormaliseIssue } from '../domain/normalise.js';
import { routeLead } from '../domain/routing.js';
import { errorSummary } from '../observability/error-summary.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CaptchaVerifier } from '../ports/captcha-verifier.js';
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
  /** Who sent it: kept as the lead's consent proof (the IP truncated) and used by the captcha check. */
  client: { keyKind: Proof['key_kind']; ip: string; userAgent: string | null };
  /** The caller's logger (it carries the request id). */
  log: LogSink;
}

/** What happened to a submission; the edge maps each kind to its answer. */
export type AcceptResult =
  /** Durable. `spam`: kept as spam, never forwarded (the caller answers as for any lead). */
  | { kind: 'created'; leadId: string; spam: boolean }
  /** Same brand, key and body as an earlier request: nothing was created. */
  | { kind: 'replayed'; leadId: string }
  | { kind: 'in_flight' }
  | { kind: 'key_reused' }
  | { kind: 'invalid'; issues: NormaliseIssue[] }
  /** The brand requires a captcha and the token is missing or was refused by the provider. */
  | { kind: 'captcha_failed' }
  /** The store or the queue cannot be reached: nothing is promised. */
  | { kind: 'unavailable' };

export interface AcceptLeadDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  captcha: CaptchaVerifier;
  /** Keyed hashes of emails and phones (LEADGATE_PRIVACY_KEY): duplicate fingerprints and the identity index. */
  hasher: PrivacyHasher;
  now: () => number;
}

/**
 * The ingest use case, the twin of worker/delivery-handler.ts:
 * normalise → captcha → bot traps → find duplicates → route → persist (lead + deliveries, one
 * transaction) → enqueue. `created` is returned only once the lead is durable.
 */
export function createLeadAcceptor(deps: AcceptLeadDeps): (submission: LeadSubmission) => Promise<AcceptResult> {
  const { config, store, queue, metrics, captcha, hasher, now } = deps;

  /** The brand's captcha, if any: `verified`, `unverified` (provider down, accepted anyway), or a refusal. */
  const checkCaptcha = async (
    brand: BrandConfig,
    token: string | undefined,
    ip: string,
  ): Promise<Lead['captcha'] | null | 'failed' | 'unavailable'> => {
    const settings = brand.bot?.captcha ?? null;
    if (settings === null) return null;
    if (token === undefined || token === '') return 'failed';
    const verdict = await captcha.verify(settings, token, ip);
    if (verdict === 'passed') return 'verified';
    if (verdict === 'refused') return 'failed';
    metrics.captchaUnavailable.inc({ brand: brand.id });
    return settings.onUnavailable === 'accept' ? 'unverified' : 'unavailable';
  };

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

  return async function acceptLead({ brand, body, idempotency, client, log }): Promise<AcceptResult> {
    const normalised = normaliseLead(body, brand.defaultCountry);
    if (!normalised.ok) return { kind: 'invalid', issues: normalised.issues };
    // A brand that must prove what the person agreed to (GDPR art. 7(1)) needs the text shown.
    if (brand.requireConsentText && normalised.lead.consent?.text === undefined) {
      return { kind: 'invalid', issues: [{ path: '/consent/text', message: 'is required by this brand: the consent text the person agreed to' }] };
    }

    const captchaState = await checkCaptcha(brand, body.bot?.captcha_token, client.ip);
    if (captchaState === 'failed') return { kind: 'captcha_failed' };
    if (captchaState === 'unavailable') return { kind: 'unavailable' };

    const receivedAt = now();
    const spam = spamReason(brand.bot, body.bot, receivedAt);
    const proof: Proof = {
      key_kind: client.keyKind,
      ip: truncateIp(client.ip),
      ...(client.userAgent !== null ? { user_agent: client.userAgent.slice(0, 512) } : {}),
    };
    const window = brand.duplicateWindowMs;
    // Spam neither finds nor becomes a duplicate: a bot must not shadow a person's lead.
    const fingerprints = window === null || spam !== null ? [] : leadFingerprints(hasher, brand.id, normalised.lead);
    let duplicateOf: string | null = null;
    try {
      // Looked up before routing, because a route's forward_duplicates decides the deliveries;
      // the race this leaves between two simultaneous duplicates is described at findDuplicate.
      if (fingerprints.length > 0) duplicateOf = await store.findDuplicate(fingerprints, receivedAt - (window ?? 0));
    } catch (err) {
      log.warn({ err: errorSummary(err) }, 'store unavailable');
      return { kind: 'unavailable' };
    }

    const destinations = spam !== null ? [] : routeLead(config.routes, brand.id, normalised.lead, { duplicate: duplicateOf !== null });
    const lead: Lead = {
      id: newId(),
      brand: brand.id,
      received_at: new Date(receivedAt).toISOString(),
      status: spam !== null ? 'spam' : destinations.length > 0 ? 'routed' : 'unrouted',
      ...normalised.lead,
      proof,
      ...(captchaState !== null ? { captcha: captchaState } : {}),
      ...(spam !== null ? { spam_reason: spam } : {}),
      ...(duplicateOf !== null ? { duplicate_of: duplicateOf } : {}),
    };
    const deliveries: NewDelivery[] = destinations.map((destination) => ({ id: newId(), destination }));
    const command: IngestCommand = {
      lead,
      deliveries,
      identities: leadIdentities(hasher, normalised.lead),
      retainUntil: receivedAt + brand.retentionMs,
    };
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
    if (spam !== null) {
      metrics.leadsSpam.inc({ brand: brand.id, reason: spam });
      log.info({ leadId: result.leadId, brand: brand.id, reason: spam }, 'lead kept as spam');
      return { kind: 'created', leadId: result.leadId, spam: true };
    }

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
    return { kind: 'created', leadId: result.leadId, spam: false };
  };
}
