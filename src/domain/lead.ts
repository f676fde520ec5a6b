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
  text?: string;
}

export interface Source {
  url?: string;
  form?: string;
  utm?: Record<string, string>;
}

/** The body of `POST /v1/leads` after validation and normalisation. */
export interface LeadInput {
  contact: Contact;
  service: string;
  message?: string;
  consent?: Consent;
  source?: Source;
  meta?: Record<string, string>;
}

export type LeadStatus = 'routed' | 'unrouted';

export interface Lead extends LeadInput {
  id: string;
  brand: string;
  /** ISO 8601, set by leadgate when the lead is accepted. */
  received_at: string;
  status: LeadStatus;
  /** The id of the latest earlier lead of the brand with the same email or phone and service, within the brand's window. */
  duplicate_of?: string;
}
