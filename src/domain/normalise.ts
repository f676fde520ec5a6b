import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Consent, Contact, LeadInput, Source, Touch } from './lead.js';

/**
 * Turns a schema-valid lead body into the form leadgate keeps and forwards: strings trimmed,
 * empty strings dropped, email lowercased, phone in E.164. Pure: no I/O, no framework.
 *
 * The `max` metadata is used on purpose: the default (`min`) only checks lengths, so it
 * would accept numbers that cannot exist and the call centre would dial them.
 */

export interface NormaliseIssue {
  /** JSON pointer into the request body, e.g. /contact/email. */
  path: string;
  message: string;
}

export type NormaliseResult = { ok: true; lead: LeadInput } | { ok: false; issues: NormaliseIssue[] };

/**
 * The WHATWG `input type=email` grammar, i.e. what brand forms already enforce in the
 * browser, so a server-side rejection never surprises a form that passed client-side checks;
 * plus a dot in the domain, since leads from intranet hosts are not a thing.
 */
const EMAIL =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Trimmed, or undefined when nothing is left. */
function clean(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** Copies only the keys whose value is defined, so absent fields stay absent in JSON. */
function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

function cleanRecord(record: Record<string, string> | undefined): Record<string, string> | undefined {
  if (record === undefined) return undefined;
  // A null-prototype target: keys come from the client, so none may reach Object.prototype.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(record)) {
    const v = clean(value);
    if (v !== undefined) out[key] = v;
  }
  return { ...out };
}

export function normaliseEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : null;
}

/** E.164, or null when the number cannot be a real one for `defaultCountry` or its own +prefix. */
export function normalisePhone(raw: string, defaultCountry: string): string | null {
  const phone = parsePhoneNumberFromString(raw.trim(), defaultCountry.toUpperCase() as CountryCode);
  return phone !== undefined && phone.isValid() ? phone.number : null;
}

export function normaliseLead(input: LeadInput, defaultCountry: string): NormaliseResult {
  const issues: NormaliseIssue[] = [];

  const rawEmail = clean(input.contact.email);
  const rawPhone = clean(input.contact.phone);
  let email: string | undefined;
  let phone: string | undefined;
  if (rawEmail !== undefined) {
    email = normaliseEmail(rawEmail) ?? undefined;
    if (email === undefined) issues.push({ path: '/contact/email', message: 'must be a valid email address' });
  }
  if (rawPhone !== undefined) {
    phone = normalisePhone(rawPhone, defaultCountry) ?? undefined;
    if (phone === undefined) issues.push({ path: '/contact/phone', message: 'must be a valid phone number' });
  }
  // The schema saw the raw strings; "   " passes it but is no way to call anyone back.
  if (rawEmail === undefined && rawPhone === undefined) {
    issues.push({ path: '/contact', message: 'must include an email or a phone number' });
  }
  if (issues.length > 0) return { ok: false, issues };

  const contact: Contact = compact({
    first_name: clean(input.contact.first_name),
    last_name: clean(input.contact.last_name),
    email,
    phone,
    postal_code: clean(input.contact.postal_code),
    city: clean(input.contact.city),
  });

  const lead: LeadInput = compact({
    contact,
    service: input.service.trim(),
    message: clean(input.message),
    consent: input.consent === undefined ? undefined : normaliseConsent(input.consent),
    source: input.source === undefined ? undefined : normaliseSource(input.source),
    meta: cleanRecord(input.meta),
  });
  return { ok: true, lead };
}

function normaliseConsent(consent: Consent): Consent {
  return compact({ contact: consent.contact, marketing: consent.marketing, text: clean(consent.text), text_version: clean(consent.text_version) });
}

function normaliseSource(source: Source): Source {
  return compact({
    url: clean(source.url),
    form: clean(source.form),
    referrer: clean(source.referrer),
    utm: cleanRecord(source.utm),
    first_touch: normaliseTouch(source.first_touch),
    last_touch: normaliseTouch(source.last_touch),
  });
}

function normaliseTouch(touch: Touch | undefined): Touch | undefined {
  if (touch === undefined) return undefined;
  return compact({ url: clean(touch.url), referrer: clean(touch.referrer), utm: cleanRecord(touch.utm), at: clean(touch.at) });
}
