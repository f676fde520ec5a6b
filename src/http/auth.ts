import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { BrandConfig } from '../domain/config.js';

// One-shot hash: no Hash object per call (it showed in the ingest profile).
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/** Constant-time equality of two strings of any length: their digests have the same size. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** A presented key that named a brand, and which kind of key it was. */
export interface ResolvedKey {
  brand: BrandConfig;
  kind: KeyKind;
}

export type KeyKind = 'secret' | 'publishable';

/**
 * Finds the brand a key belongs to, and its kind. Every key of every brand is compared, in
 * constant time and without early exit, so response time says nothing about how close a guess
 * was or which brand it hit.
 */
export function createKeyResolver(brands: BrandConfig[]): (key: string) => ResolvedKey | null {
  const keys = brands.flatMap((brand) => [
    ...brand.apiKeys.map((key) => ({ resolved: { brand, kind: 'secret' as const }, digest: digest(key) })),
    ...brand.publishableKeys.map((key) => ({ resolved: { brand, kind: 'publishable' as const }, digest: digest(key) })),
  ]);
  return (candidate) => {
    const candidateDigest = digest(candidate);
    let found: ResolvedKey | null = null;
    for (const entry of keys) {
      if (timingSafeEqual(entry.digest, candidateDigest) && found === null) found = entry.resolved;
    }
    return found;
  };
}

/**
 * The presented key: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Both at once must
 * agree, so a proxy adding one cannot silently override the other. Null when absent or
 * malformed.
 */
export function presentedKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  const apiKey = request.headers['x-api-key'];
  let bearer: string | null = null;
  if (authorization !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (match === null) return null;
    bearer = match[1] ?? null;
  }
  const header = typeof apiKey === 'string' ? apiKey.trim() : null;
  if (bearer !== null && header !== null) return bearer === header ? bearer : null;
  return bearer ?? (header === '' ? null : header);
}

/** Bearer token of the admin API, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
  return match?.[1] ?? null;
}
