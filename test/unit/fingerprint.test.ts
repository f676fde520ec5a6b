import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPrivacyHasher, identityHash, leadFingerprints, leadIdentities } from '../../src/domain/fingerprint.js';

const KEY = 'test-privacy-key-0123456789abcdef';
const hmac = (text: string): string => createHmac('sha256', KEY).update(text, 'utf8').digest('hex');
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hasher = createPrivacyHasher(KEY);

describe('leadFingerprints', () => {
  const contact = { email: 'camille.martin@example.fr', phone: '+33612345678' };

  it('HMAC-SHA256s brand|email|<email>|service and brand|phone|<e164>|service with the privacy key', () => {
    expect(leadFingerprints(hasher, 'merciplus', { contact, service: 'menage' })).toEqual([
      hmac('merciplus|email|camille.martin@example.fr|menage'),
      hmac('merciplus|phone|+33612345678|menage'),
    ]);
  });

  it('is not the plain sha256 of before, and another key gives other hashes', () => {
    const prints = leadFingerprints(hasher, 'merciplus', { contact, service: 'menage' });
    expect(prints[0]).not.toBe(sha256('merciplus|email|camille.martin@example.fr|menage'));
    const other = leadFingerprints(createPrivacyHasher('another-privacy-key-0123456789'), 'merciplus', { contact, service: 'menage' });
    expect(other[0]).not.toBe(prints[0]);
  });

  it('gives hex digests that hold no contact detail in clear', () => {
    const prints = leadFingerprints(hasher, 'merciplus', { contact, service: 'menage' });
    for (const print of prints) {
      expect(print).toMatch(/^[0-9a-f]{64}$/);
      expect(print).not.toContain('camille');
      expect(print).not.toContain('612345678');
    }
  });

  it('has one fingerprint per contact channel the lead gives', () => {
    expect(leadFingerprints(hasher, 'merciplus', { contact: { email: contact.email }, service: 'menage' })).toEqual([
      hmac('merciplus|email|camille.martin@example.fr|menage'),
    ]);
    expect(leadFingerprints(hasher, 'merciplus', { contact: {}, service: 'menage' })).toEqual([]);
  });

  it('differs by brand and by service, and ignores the other contact fields', () => {
    const base = leadFingerprints(hasher, 'merciplus', { contact, service: 'menage' });
    expect(leadFingerprints(hasher, 'kidcare', { contact, service: 'menage' })).not.toEqual(base);
    expect(leadFingerprints(hasher, 'merciplus', { contact, service: 'jardinage' })).not.toEqual(base);
    expect(
      leadFingerprints(hasher, 'merciplus', { contact: { ...contact, first_name: 'Other', postal_code: '13001' }, service: 'menage' }),
    ).toEqual(base);
  });

  it('refuses a key too short to be secret', () => {
    expect(() => createPrivacyHasher('short')).toThrow(/too short/);
  });
});

describe('identity hashes', () => {
  it('index a person by email and by phone, whatever the brand or service', () => {
    const ids = leadIdentities(hasher, { contact: { email: 'camille.martin@example.fr', phone: '+33612345678' } });
    expect(ids).toEqual([
      identityHash(hasher, { kind: 'email', value: 'camille.martin@example.fr' }),
      identityHash(hasher, { kind: 'phone', value: '+33612345678' }),
    ]);
    expect(ids[0]).toBe(hmac('identity|email|camille.martin@example.fr'));
    expect(leadIdentities(hasher, { contact: {} })).toEqual([]);
  });
});
