import type { Contact } from './lead.js';

/**
 * What of a CRM's answer an attempt keeps (data minimisation, GDPR art. 5(1)(c)): nothing of a
 * 2xx, and of an error at most 1 KiB, with email addresses, phone numbers, bearer tokens and
 * the lead's own contact values masked: a CRM that echoes the request must not make leadgate
 * keep a second copy of the contact in its attempts.
 */
export const MAX_STORED_RESPONSE_BYTES = 1024;

const EMAIL = /[^\s"'<>(),;:\\[\]{}]+@[^\s"'<>(),;:\\[\]{}]+/g;
// Seven digits or more, with the usual separators: phone numbers in any format (E.164, national).
const PHONE = /\+?\(?\d(?:[\s.()/-]{0,2}\d){6,}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi;
const SECRETISH = /("(?:access_token|refresh_token|id_token|token|password|secret|client_secret|api_key)"\s*:\s*")[^"]*"/gi;

export function storedResponseBody(
  body: string | null,
  statusCode: number | null,
  policy: 'errors' | 'none',
  contact?: Contact,
): string | null {
  if (body === null || body === '' || policy === 'none') return null;
  if (statusCode !== null && statusCode >= 200 && statusCode <= 299) return null;
  let text = body;
  let cut = false;
  if (Buffer.byteLength(text, 'utf8') >= MAX_STORED_RESPONSE_BYTES) {
    text = Buffer.from(text, 'utf8').subarray(0, MAX_STORED_RESPONSE_BYTES).toString('utf8');
    cut = true;
  }
  text = maskPersonalData(text, contact);
  // A value cut in half at the end would escape the patterns: drop the last, partial token.
  if (cut) text = text.replace(/[^\s"',;{}[\]<>]*$/, '');
  return text === '' ? null : text;
}

export function maskPersonalData(text: string, contact?: Contact): string {
  let out = text;
  for (const value of contactValues(contact)) out = replaceAllInsensitive(out, value, '[redacted]');
  return out
    .replace(SECRETISH, '$1[redacted]"')
    .replace(BEARER, '$1 [redacted]')
    .replace(EMAIL, '[email]')
    .replace(PHONE, '[phone]');
}

/** The lead's contact values as they may appear in an echo: raw, JSON-escaped, and the phone's national digits. */
function contactValues(contact: Contact | undefined): string[] {
  if (!contact) return [];
  const values = new Set<string>();
  for (const value of Object.values(contact)) {
    if (typeof value !== 'string' || value.length < 2) continue;
    values.add(value);
    values.add(JSON.stringify(value).slice(1, -1));
  }
  if (contact.phone?.startsWith('+33')) values.add(`0${contact.phone.slice(3)}`);
  return [...values].sort((a, b) => b.length - a.length);
}

function replaceAllInsensitive(text: string, needle: string, replacement: string): string {
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(escaped, 'gi'), replacement);
}
