import { describe, expect, it } from 'vitest';
import type { LeadInput } from '../../src/domain/lead.js';
import { normaliseEmail, normaliseLead, normalisePhone } from '../../src/domain/normalise.js';

describe('normalisePhone', () => {
  it('turns a French national number into E.164 with the brand country', () => {
    expect(normalisePhone('06 12 34 56 78', 'FR')).toBe('+33612345678');
    expect(normalisePhone(' 06.12.34.56.78 ', 'fr')).toBe('+33612345678');
  });

  it('keeps the country of a number written with +, whatever the default', () => {
    expect(normalisePhone('+44 20 7946 0958', 'FR')).toBe('+442079460958');
    expect(normalisePhone('+33 6 12 34 56 78', 'GB')).toBe('+33612345678');
  });

  it('rejects garbage and impossible numbers', () => {
    expect(normalisePhone('not a phone', 'FR')).toBeNull();
    expect(normalisePhone('12', 'FR')).toBeNull();
    expect(normalisePhone('06 12', 'FR')).toBeNull();
    expect(normalisePhone('+33 0 00 00 00 00', 'FR')).toBeNull();
    expect(normalisePhone('', 'FR')).toBeNull();
  });
});

describe('normaliseEmail', () => {
  it('trims and lowercases', () => {
    expect(normaliseEmail('  Camille.Martin@Example.FR ')).toBe('camille.martin@example.fr');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['camille', 'camille@', '@example.fr', 'a b@example.fr', 'a@localhost', 'a@@b.fr', 'a@-b.fr']) {
      expect(normaliseEmail(bad), bad).toBeNull();
    }
  });
});

describe('normaliseLead', () => {
  const base: LeadInput = {
    contact: { first_name: '  Camille ', last_name: '', email: ' Camille.Martin@Example.fr', phone: '06 12 34 56 78' },
    service: 'menage',
    message: '  Devis  ',
    consent: { contact: true, marketing: false, text: ' ok ' },
    source: { url: ' https://x.example/devis ', form: '', utm: { source: ' google ', medium: '   ' } },
    meta: { a: ' 1 ', b: '' },
  };

  it('trims, drops empty strings, lowercases email and formats phone', () => {
    const result = normaliseLead(base, 'FR');
    expect(result).toEqual({
      ok: true,
      lead: {
        contact: { first_name: 'Camille', email: 'camille.martin@example.fr', phone: '+33612345678' },
        service: 'menage',
        message: 'Devis',
        consent: { contact: true, marketing: false, text: 'ok' },
        source: { url: 'https://x.example/devis', utm: { source: 'google' } },
        meta: { a: '1' },
      },
    });
  });

  it('keeps the referrer and the first and last touch, trimmed, empty strings dropped', () => {
    const result = normaliseLead(
      {
        ...base,
        source: {
          referrer: ' https://www.google.com/ ',
          first_touch: { url: ' https://x.example/a?utm_source=x ', referrer: '', utm: { source: ' x ' }, at: '2026-01-02T03:04:05.000Z' },
          last_touch: { url: 'https://x.example/b', utm: { source: 'y', gclid: '' } },
        },
      },
      'FR',
    );
    expect(result.ok && result.lead.source).toEqual({
      referrer: 'https://www.google.com/',
      first_touch: { url: 'https://x.example/a?utm_source=x', utm: { source: 'x' }, at: '2026-01-02T03:04:05.000Z' },
      last_touch: { url: 'https://x.example/b', utm: { source: 'y' } },
    });
  });

  it('does not change its input', () => {
    const copy = structuredClone(base);
    normaliseLead(base, 'FR');
    expect(base).toEqual(copy);
  });

  it('names every bad field', () => {
    const result = normaliseLead({ contact: { email: 'nope', phone: 'nope' }, service: 'menage' }, 'FR');
    expect(result).toEqual({
      ok: false,
      issues: [
        { path: '/contact/email', message: 'must be a valid email address' },
        { path: '/contact/phone', message: 'must be a valid phone number' },
      ],
    });
  });

  it('needs an email or a phone that is not blank', () => {
    const result = normaliseLead({ contact: { email: '   ', first_name: 'Camille' }, service: 'menage' }, 'FR');
    expect(result).toEqual({ ok: false, issues: [{ path: '/contact', message: 'must include an email or a phone number' }] });
  });

  it('accepts a phone alone and omits absent sections', () => {
    expect(normaliseLead({ contact: { phone: '+44 20 7946 0958' }, service: 'jardinage' }, 'FR')).toEqual({
      ok: true,
      lead: { contact: { phone: '+442079460958' }, service: 'jardinage' },
    });
  });
});
