import { createHmac } from 'node:crypto';
import type { LeadInput } from './lead.js';

/**
 * Keyed hashes (HMAC-SHA256 with LEADGATE_PRIVACY_KEY) of contact details: stores index these
 * rather than the email or phone, so no contact detail sits in clear text in an index or a key
 * (DynamoDB keys also show in metrics and consoles). Keyed, unlike a plain sha256, so that
 * whoever reads the store without the key cannot test a candidate address against it.
 */
export interface PrivacyHasher {
  /** HMAC-SHA256 hex of `text`. */
  hash(text: string): string;
}

/** The hasher of a privacy key (LEADGATE_PRIVACY_KEY, or the key file of the SQLite data dir). */
export function createPrivacyHasher(key: string | Buffer): PrivacyHasher {
  const secret = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (secret.length < 16) throw new Error('privacy key is too short');
  return { hash: (text) => createHmac('sha256', secret).update(text, 'utf8').digest('hex') };
}

/**
 * What makes two leads duplicates: the same brand, the same service and the same normalised
 * email or E.164 phone.
 */
export function leadFingerprints(hasher: PrivacyHasher, brand: string, lead: Pick<LeadInput, 'contact' | 'service'>): string[] {
  const parts: string[] = [];
  if (lead.contact.email !== undefined) parts.push(`${brand}|email|${lead.contact.email}|${lead.service}`);
  if (lead.contact.phone !== undefined) parts.push(`${brand}|phone|${lead.contact.phone}|${lead.service}`);
  return parts.map((part) => hasher.hash(part));
}

/** A person's identifier, already normalised as ingest does (email lowercased, phone E.164). */
export type Identifier = { kind: 'email'; value: string } | { kind: 'phone'; value: string };

/** The keyed hash that indexes every lead of a person by one identifier, across brands. */
export function identityHash(hasher: PrivacyHasher, identifier: Identifier): string {
  return hasher.hash(`identity|${identifier.kind}|${identifier.value}`);
}

/** The identity hashes of a lead: its email and its phone (one each at most). */
export function leadIdentities(hasher: PrivacyHasher, lead: Pick<LeadInput, 'contact'>): string[] {
  const out: string[] = [];
  if (lead.contact.email !== undefined) out.push(identityHash(hasher, { kind: 'email', value: lead.contact.email }));
  if (lead.contact.phone !== undefined) out.push(identityHash(hasher, { kind: 'phone', value: lead.contact.phone }));
  return out;
}
