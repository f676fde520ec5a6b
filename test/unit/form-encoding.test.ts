import { describe, expect, it } from 'vitest';
import { encodeForm } from '../../src/domain/form-encoding.js';

describe('encodeForm', () => {
  it('flattens nested objects with bracket keys, in order, byte for byte', () => {
    expect(
      encodeForm({
        type: 'lead.created',
        data: { id: 'lead_1', contact: { email: 'camille.martin@example.fr', phone: '+33612345678' } },
      }),
    ).toBe(
      'type=lead.created&data%5Bid%5D=lead_1&data%5Bcontact%5D%5Bemail%5D=camille.martin%40example.fr&data%5Bcontact%5D%5Bphone%5D=%2B33612345678',
    );
  });

  it('repeats the key for arrays of scalars and indexes arrays of objects', () => {
    expect(encodeForm({ tags: ['a', 'b'], items: [{ sku: 'x1', qty: 2 }, { sku: 'y' }], nested: [[1, 2]] })).toBe(
      'tags=a&tags=b&items%5B0%5D%5Bsku%5D=x1&items%5B0%5D%5Bqty%5D=2&items%5B1%5D%5Bsku%5D=y&nested%5B0%5D=1&nested%5B0%5D=2',
    );
  });

  it('writes numbers, booleans and null; leaves out empty objects, empty arrays and undefined', () => {
    expect(encodeForm({ n: 3.5, big: 1e21, yes: true, no: false, none: null, empty: {}, list: [], gone: undefined })).toBe(
      'n=3.5&big=1e%2B21&yes=true&no=false&none=',
    );
  });

  it('encodes special characters and UTF-8 as application/x-www-form-urlencoded', () => {
    expect(
      encodeForm({
        message: 'Devis: 3 h de ménage & repassage = 100% "vite"?',
        'clé spéciale': 'a+b/c;d#e',
        emoji: '✓ 😀',
        lines: 'un\ndeux\ttrois',
      }),
    ).toBe(
      'message=Devis%3A+3+h+de+m%C3%A9nage+%26+repassage+%3D+100%25+%22vite%22%3F' +
        '&cl%C3%A9+sp%C3%A9ciale=a%2Bb%2Fc%3Bd%23e' +
        '&emoji=%E2%9C%93+%F0%9F%98%80' +
        '&lines=un%0Adeux%09trois',
    );
  });

  it('round-trips through a standard parser', () => {
    const parsed = new URLSearchParams(encodeForm({ contact: { city: 'Saint-Étienne' }, tags: ['x', 'y'] }));
    expect(parsed.get('contact[city]')).toBe('Saint-Étienne');
    expect(parsed.getAll('tags')).toEqual(['x', 'y']);
  });
});
