import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leadFingerprints } from '../../src/domain/fingerprint.js';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('leadFingerprints', () => {
  const contact = { email: 'camille.martin@example.fr', phone: '+33612345678' };

  it('hashes brand|email|<email>|service and brand|phone|<e164>|service', () => {
    expect(leadFingerprints('merciplus', { contact, service: 'menage' })).toEqual([
      sha256('merciplus|email|camille.martin@example.fr|menage'),
      sha256('merciplus|phone|+33612345678|menage'),
    ]);
  });

  it('gives sha256 hex digests that hold no contact detail in clear', () => {
    const prints = leadFingerprints('merciplus', { contact, service: 'menage' });
    for (const print of prints) {
      expect(print).toMatch(/^[0-9a-f]{64}$/);
      expect(print).not.toContain('camille');
      expect(print).not.toContain('612345678');
    }
  });

  it('has one fingerprint per contact channel the lead gives', () => {
    expect(leadFingerprints('merciplus', { contact: { email: contact.email }, service: 'menage' })).toEqual([
      sha256('merciplus|email|camille.martin@example.fr|menage'),
    ]);
    expect(leadFingerprints('merciplus', { contact: { phone: contact.phone }, service: 'menage' })).toEqual([
      sha256('merciplus|phone|+33612345678|menage'),
    ]);
    expect(leadFingerprints('merciplus', { contact: {}, service: 'menage' })).toEqual([]);
  });

  it('differs by brand and by service, and ignores the other contact fields', () => {
    const base = leadFingerprints('merciplus', { contact, service: 'menage' });
    expect(leadFingerprints('kidcare', { contact, service: 'menage' })).not.toEqual(base);
    expect(leadFingerprints('merciplus', { contact, service: 'jardinage' })).not.toEqual(base);
    expect(
      leadFingerprints('merciplus', { contact: { ...contact, first_name: 'Other', postal_code: '13001' }, service: 'menage' }),
    ).toEqual(base);
  });
});
