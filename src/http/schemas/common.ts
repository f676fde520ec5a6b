/**
 * Building blocks shared by every request schema. Plain JSON Schema so Fastify's Ajv compiles
 * it once at start; `as const` keeps the literal types.
 */

/** U+nFFFE and U+nFFFF of the 16 supplementary planes: noncharacters. */
const PLANE_NONCHARACTERS = Array.from({ length: 16 }, (_, i) => {
  const plane = (i + 1).toString(16).toUpperCase();
  return `\\u{${plane}FFFE}\\u{${plane}FFFF}`;
}).join('');

/**
 * What a form field may not hold, refused rather than silently stripped (they break CSV
 * exports, terminals and some CRMs, or hide or reorder what a person reads):
 * - control characters but tab and newline: C0, DEL and C1 (U+0080–U+009F);
 * - bidi embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069), which make text
 *   display in another order than it is stored ("Trojan Source");
 * - invisible characters: zero-width space U+200B, word joiner and invisible operators
 *   U+2060–U+2064, the BOM U+FEFF, U+180E; the joiners U+200C/U+200D stay allowed, as emoji
 *   sequences and several scripts (Persian, Indic) need them;
 * - line and paragraph separators U+2028/U+2029 (they end a line in JavaScript source);
 * - lone surrogates (U+D800–U+DFFF, which only the `u` flag lets a class match alone) and
 *   noncharacters (U+FDD0–U+FDEF, U+FFFE, U+FFFF and their 16 supplementary-plane twins).
 * Escaped for the regex engine (Ajv compiles patterns with the `u` flag).
 */
export const SAFE_TEXT_PATTERN =
  '^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u180E\\u200B\\u2028\\u2029\\u202A-\\u202E' +
  '\\u2060-\\u2064\\u2066-\\u2069\\uFEFF\\uD800-\\uDFFF\\uFDD0-\\uFDEF\\uFFFE\\uFFFF' +
  PLANE_NONCHARACTERS +
  ']*$';

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
