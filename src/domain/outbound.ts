import { createHmac } from 'node:crypto';
import type { OutboundRequest } from '../ports/destination-client.js';
import type { DestinationAuth, DestinationConfig } from './config.js';
import { FORM_CONTENT_TYPE, encodeForm } from './form-encoding.js';
import { isErased, type ErasedLead, type Lead, type StoredLead } from './lead.js';

/**
 * What leadgate sends to a destination: the contract's default body and the Standard Webhooks
 * headers (https://www.standardwebhooks.com). Pure: the clock and version come in as arguments.
 */

/** Sent when the caller does not say which version it runs. */
export const DEFAULT_USER_AGENT = 'leadgate';

/**
 * The contract's `lead.created` body. Absent optional fields of `data` (`message`) and of
 * `contact` are omitted rather than sent as null: the lead never had them, and a CRM mapping
 * "missing" and "null" the same way is the common case. `consent`, `source` and `meta` are
 * always objects (`{}` when absent), as the contract's example shows, so CRMs can index into
 * them without a null check.
 */
export function buildLeadCreatedPayload(lead: Lead, now: Date): LeadCreatedPayload {
  const data: Record<string, unknown> = {
    id: lead.id,
    brand: lead.brand,
    received_at: lead.received_at,
    contact: lead.contact,
    service: lead.service,
  };
  if (lead.message !== undefined) data.message = lead.message;
  data.consent = lead.consent ?? {};
  data.proof = consentProof(lead);
  data.source = lead.source ?? {};
  data.meta = lead.meta ?? {};
  // Only on duplicates, so a CRM can link or drop them (see `duplicate_window`).
  if (lead.duplicate_of !== undefined) data.duplicate_of = lead.duplicate_of;
  return { type: 'lead.created', timestamp: now.toISOString(), data };
}

/**
 * The consent proof as a CRM keeps it beside the consent (GDPR art. 7(1): the controller must
 * be able to show that the person consented): when, from which page and form, with which kind
 * of key, from which network (the IP truncated) and browser.
 */
export function consentProof(lead: Lead): Record<string, string> {
  const proof: Record<string, string> = { received_at: lead.received_at };
  if (lead.source?.url !== undefined) proof.source_url = lead.source.url;
  if (lead.source?.form !== undefined) proof.form = lead.source.form;
  if (lead.proof !== undefined) {
    proof.key_kind = lead.proof.key_kind;
    proof.ip = lead.proof.ip;
    if (lead.proof.user_agent !== undefined) proof.user_agent = lead.proof.user_agent;
  }
  return proof;
}

/** The `lead.erased` notice (GDPR art. 19): the ids a CRM needs to erase its own copy, nothing else. */
export function buildLeadErasedPayload(lead: Pick<ErasedLead, 'id' | 'brand' | 'erased_at'>, now: Date): Record<string, unknown> {
  return { type: 'lead.erased', timestamp: now.toISOString(), data: { id: lead.id, brand: lead.brand, erased_at: lead.erased_at } };
}

/** The `lead.created` payload, also the input of a destination's `transform:`. */
export type LeadCreatedPayload = {
  type: 'lead.created';
  timestamp: string;
  data: Record<string, unknown>;
};

/** The default JSON body: the payload as is. */
export function buildLeadCreatedBody(lead: Lead, now: Date): string {
  return JSON.stringify(buildLeadCreatedPayload(lead, now));
}

const SECRET_PREFIX = 'whsec_';

/**
 * `webhook-signature` value: one `v1,<base64 HMAC-SHA256>` per secret, space separated, so a
 * destination rotating its secret accepts either during the overlap.
 */
export function signWebhook(secrets: string[], msgId: string, timestampSec: number, body: string): string {
  const content = `${msgId}.${timestampSec}.${body}`;
  if (secrets.length === 1) return `v1,${createHmac('sha256', decodedSecret(secrets[0]!)).update(content).digest('base64')}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', decodedSecret(secret)).update(content).digest('base64')}`).join(' ');
}

/** Decoded once per secret: the secrets are the config's, a handful, checked on the first use. */
const decodedSecrets = new Map<string, Buffer>();
function decodedSecret(secret: string): Buffer {
  let key = decodedSecrets.get(secret);
  if (!key) {
    key = decodeSecret(secret);
    if (decodedSecrets.size < 1_000) decodedSecrets.set(secret, key);
  }
  return key;
}

/** Throws (without echoing the secret) when it is not `whsec_<base64>`; config validation should catch this first. */
export function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new Error('signing secret is not whsec_<base64>');
  }
  return key;
}

export interface OutboundOptions {
  /** `leadgate/<version>`; defaults to `leadgate`. */
  userAgent?: string;
  /** What to send instead of the default payload: the destination's transform result. */
  payload?: Record<string, unknown>;
  /** `Authorization` obtained at send time (an OAuth2 access token as `Bearer …`). */
  authorization?: string;
}

/**
 * `Authorization` for the static auth types. It replaces an `Authorization` among the
 * configured headers: `auth:` is the more specific setting. OAuth2 tokens come at send time.
 */
export function staticAuthorization(auth: DestinationAuth | null): string | null {
  if (auth === null) return null;
  // RFC 7617: user-id ":" password, UTF-8, base64.
  if (auth.type === 'basic') return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
  if (auth.type === 'bearer') return `Bearer ${auth.token}`;
  return null;
}

/** Headers leadgate owns: a destination's configured headers cannot override these. */
const RESERVED = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-length', 'host']);

/** The request for a lead (`lead.created`), or for its tombstone (`lead.erased`). */
export function buildOutboundRequest(
  lead: StoredLead,
  destination: DestinationConfig,
  deliveryId: string,
  now: Date,
  options: OutboundOptions = {},
): OutboundRequest {
  const payload = options.payload ?? (isErased(lead) ? buildLeadErasedPayload(lead, now) : buildLeadCreatedPayload(lead, now));
  // Signed below over exactly these bytes, whatever the format.
  const body = destination.format === 'form' ? encodeForm(payload) : JSON.stringify(payload);
  const timestampSec = Math.floor(now.getTime() / 1000);
  // Lower-cased names so a configured `Content-Type` replaces ours instead of being sent twice.
  const headers: Record<string, string> = {
    'content-type': destination.format === 'form' ? FORM_CONTENT_TYPE : 'application/json',
    'user-agent': options.userAgent ?? DEFAULT_USER_AGENT,
  };
  for (const [name, value] of Object.entries(destination.headers)) {
    const lower = name.toLowerCase();
    if (!RESERVED.has(lower)) headers[lower] = value;
  }
  const authorization = options.authorization ?? staticAuthorization(destination.auth);
  if (authorization !== null) headers.authorization = authorization;
  headers['webhook-id'] = deliveryId;
  headers['webhook-timestamp'] = String(timestampSec);
  if (destination.signingSecrets.length > 0) {
    headers['webhook-signature'] = signWebhook(destination.signingSecrets, deliveryId, timestampSec, body);
  }
  return { url: destination.url, headers, body, timeoutMs: destination.timeoutMs };
}
