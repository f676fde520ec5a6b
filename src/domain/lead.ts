/** A lead as leadgate keeps and forwards it: validated, normalised, with its id. */

export interface Contact {
  first_name?: string;
  last_name?: string;
  /** Trimmed and lowercased. */
  email?: string;
  /** E.164, e.g. +33612345678. */
  phone?: string;
  postal_code?: string;
  city?: string;
}

export interface Consent {
  contact?: boolean;
  marketing?: boolean;
  /** The exact text the person agreed to, as the page showed it. */
  text?: string;
  /** The page's own version label of that text. */
  text_version?: string;
}

/** What the page's bot traps recorded; checked at ingest, never stored or forwarded. */
export interface BotFields {
  honeypot?: string;
  /** ISO 8601, when the page showed the form (the page's clock). */
  form_shown_at?: string;
  captcha_token?: string;
}

/** How the lead reached leadgate, kept beside consent and source as proof of consent. */
export interface Proof {
  key_kind: 'secret' | 'publishable';
  /** The client IP truncated to /24 (IPv4) or /48 (IPv6). */
  ip: string;
  user_agent?: string;
}

/** A visit that brought the person to the brand's site (attribution). */
export interface Touch {
  /** The landing page. */
  url?: string;
  /** The page before it, as the browser told. */
  referrer?: string;
  utm?: Record<string, string>;
  /** ISO 8601, the page's clock. */
  at?: string;
}

export interface Source {
  /** The page the form was sent from. */
  url?: string;
  form?: string;
  referrer?: string;
  /** `utm_*` (without the prefix), gclid, fbclid, msclkid of the page's URL. */
  utm?: Record<string, string>;
  first_touch?: Touch;
  last_touch?: Touch;
}

/** The body of `POST /v1/leads` after validation and normalisation. */
export interface LeadInput {
  contact: Contact;
  service: string;
  message?: string;
  consent?: Consent;
  source?: Source;
  meta?: Record<string, string>;
  bot?: BotFields;
}

export type SpamReason = 'honeypot' | 'too_fast';

export type LeadStatus = 'routed' | 'unrouted' | 'spam';

export interface Lead extends LeadInput {
  id: string;
  brand: string;
  /** ISO 8601, set by leadgate when the lead is accepted. */
  received_at: string;
  status: LeadStatus;
  proof?: Proof;
  /** Set when the brand checks a captcha: `unverified` when its provider could not be reached. */
  captcha?: 'verified' | 'unverified';
  /** Why a lead was kept as spam (status `spam`): never forwarded. */
  spam_reason?: SpamReason;
  /** The id of the latest earlier lead of the brand with the same email or phone and service, within the brand's window. */
  duplicate_of?: string;
}

/**
 * What is left of a lead once its person asked for erasure (GDPR art. 17): no personal field,
 * only what ops need to explain a gap in the records.
 */
export interface ErasedLead {
  id: string;
  brand: string;
  received_at: string;
  status: 'erased';
  /** ISO 8601. */
  erased_at: string;
}

/** A lead as a store returns it: whole, or its tombstone. */
export type StoredLead = Lead | ErasedLead;

export function isErased(lead: StoredLead): lead is ErasedLead {
  return lead.status === 'erased';
}

export function tombstone(lead: Pick<Lead, 'id' | 'brand' | 'received_at'>, erasedAt: number): ErasedLead {
  return { id: lead.id, brand: lead.brand, received_at: lead.received_at, status: 'erased', erased_at: new Date(erasedAt).toISOString() };
}
