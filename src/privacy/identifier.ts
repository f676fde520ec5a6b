import type { LeadgateConfig } from '../domain/config.js';
import type { Identifier } from '../domain/fingerprint.js';
import { normaliseEmail, normalisePhone } from '../domain/normalise.js';

/** An access or erasure request names a person by one identifier, optionally within one brand. */
export interface PersonRequest {
  email?: string;
  phone?: string;
  brand?: string;
}

export type IdentifierResult = { ok: true; identifier: Identifier; brand: string | null } | { ok: false; path: string; message: string };

/** Phone numbers without +country are read for France when no brand says otherwise. */
const DEFAULT_COUNTRY = 'FR';

/**
 * Normalised exactly as ingest normalises (email trimmed and lowercased; phone to E.164 with
 * the brand's default country, or FR), so the identity hash is the one the leads were indexed under.
 */
export function normaliseIdentifier(config: LeadgateConfig, request: PersonRequest): IdentifierResult {
  let brand: string | null = null;
  let country = DEFAULT_COUNTRY;
  if (request.brand !== undefined) {
    const found = config.brands.find((b) => b.id === request.brand);
    if (!found) return { ok: false, path: '/brand', message: 'is not a brand of the config' };
    brand = found.id;
    country = found.defaultCountry;
  }
  if ((request.email === undefined) === (request.phone === undefined)) {
    return { ok: false, path: '', message: 'needs exactly one of email or phone' };
  }
  if (request.email !== undefined) {
    const email = normaliseEmail(request.email);
    return email === null ? { ok: false, path: '/email', message: 'must be a valid email address' } : { ok: true, identifier: { kind: 'email', value: email }, brand };
  }
  const phone = normalisePhone(request.phone!, country);
  return phone === null ? { ok: false, path: '/phone', message: 'must be a valid phone number' } : { ok: true, identifier: { kind: 'phone', value: phone }, brand };
}
