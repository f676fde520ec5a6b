import { parsePhoneNumberWithError } from 'libphonenumber-js';
import type { Contact } from '../../domain/lead.js';

/**
 * Contact details as the console shows them before "Show personal data": enough to tell two
 * leads apart on the phone with a customer, not enough to contact the person. Lengths of the
 * local part and names are not kept (a fixed run of stars).
 */

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '*****';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const name = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${[...local][0]}*****@${[...name][0] ?? ''}${'*'.repeat(Math.max(0, [...name].length - 1))}${tld}`;
}

/** `+33 6 ** ** ** 78`: the country code, the first national digit and the last two. */
export function maskPhone(phone: string): string {
  let formatted: string;
  try {
    formatted = parsePhoneNumberWithError(phone).formatInternational();
  } catch {
    formatted = phone;
  }
  const space = formatted.indexOf(' ');
  const country = space > 0 ? formatted.slice(0, space + 1) : '';
  const rest = space > 0 ? formatted.slice(space + 1) : formatted;
  const digits = [...rest].filter((c) => /\d/.test(c)).length;
  let seen = 0;
  const masked = [...rest]
    .map((c) => {
      if (!/\d/.test(c)) return c;
      seen += 1;
      return seen === 1 || seen > digits - 2 ? c : '*';
    })
    .join('');
  return country + masked;
}

const maskName = (name: string): string => `${[...name][0] ?? ''}*****`;

/** The contact with every field masked (postal code to its first two characters: the French département). */
export function maskContact(contact: Contact): Contact {
  return {
    ...(contact.first_name !== undefined ? { first_name: maskName(contact.first_name) } : {}),
    ...(contact.last_name !== undefined ? { last_name: maskName(contact.last_name) } : {}),
    ...(contact.email !== undefined ? { email: maskEmail(contact.email) } : {}),
    ...(contact.phone !== undefined ? { phone: maskPhone(contact.phone) } : {}),
    ...(contact.postal_code !== undefined ? { postal_code: `${contact.postal_code.slice(0, 2)}***` } : {}),
    ...(contact.city !== undefined ? { city: maskName(contact.city) } : {}),
  };
}
