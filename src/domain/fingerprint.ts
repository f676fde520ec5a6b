import { createHash } from 'node:crypto';
import type { LeadInput } from './lead.js';

/**
 * What makes two leads duplicates: the same brand, the same service and the same normalised
 * email or E.164 phone. Stores index these digests rather than the email or phone, so no
 * contact detail sits in clear text in an index or a key (DynamoDB keys also show in metrics
 * and consoles). An unkeyed sha256 is pseudonymisation, not anonymisation: whoever holds a
 * candidate address can test it; the leads themselves hold the clear data anyway.
 */
export function leadFingerprints(brand: string, lead: Pick<LeadInput, 'contact' | 'service'>): string[] {
  const parts: string[] = [];
  if (lead.contact.email !== undefined) parts.push(`${brand}|email|${lead.contact.email}|${lead.service}`);
  if (lead.contact.phone !== undefined) parts.push(`${brand}|phone|${lead.contact.phone}|${lead.service}`);
  return parts.map((part) => createHash('sha256').update(part, 'utf8').digest('hex'));
}
