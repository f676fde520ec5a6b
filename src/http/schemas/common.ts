/**
 * Building blocks shared by every request schema. Plain JSON Schema so Fastify's Ajv compiles
 * it once at start; `as const` keeps the literal types.
 */

/**
 * No control characters but tab and newline. They have no place in a form field and break
 * CSV exports, terminals and some CRMs; rejecting them beats silently stripping them.
 * Escaped for the regex engine (Ajv compiles patterns with the `u` flag).
 */
export const SAFE_TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F]*$';

export const text = <N extends number>(maxLength: N) =>
  ({ type: 'string', maxLength, pattern: SAFE_TEXT_PATTERN }) as const;

/** Keys of client-chosen maps (meta, utm): plain identifiers, never prototype names. */
export const mapKey = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.-]{1,64}$',
  not: { enum: ['__proto__', 'constructor', 'prototype'] },
} as const;

/** Identifiers of brands and destinations, as the config file allows them. */
export const ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';

/** Visible ASCII, what an opaque token (idempotency key, cursor) may be made of. */
export const TOKEN_PATTERN = /^[\x21-\x7E]+$/;
