import { describe, expect, it } from 'vitest';
import { maskPersonalData, storedResponseBody } from '../../src/domain/response-body.js';

const contact = { first_name: 'Camille', last_name: 'Quintavalle', email: 'camille.q@example.fr', phone: '+33612345678', city: 'Paris' };

describe('stored response bodies (data minimisation)', () => {
  it('keeps nothing of a 2xx, nor anything with store_response_body: none', () => {
    expect(storedResponseBody('{"ok":true,"email":"camille.q@example.fr"}', 200, 'errors', contact)).toBeNull();
    expect(storedResponseBody('{"error":"bad"}', 422, 'none', contact)).toBeNull();
    expect(storedResponseBody('', 500, 'errors', contact)).toBeNull();
  });

  it('masks emails, phones in any format, bearer tokens and the lead\'s own values in an error', () => {
    const echoed = JSON.stringify({
      error: 'duplicate',
      lead: { contact },
      seen: ['06 12 34 56 78', '0612345678', '+33 6 12 34 56 78', 'other@example.com'],
      auth: 'Bearer abc.def-123',
      token: { access_token: 'sekrit' },
    });
    const kept = storedResponseBody(echoed, 409, 'errors', contact)!;
    for (const needle of ['camille', 'Camille', 'Quintavalle', 'example.fr', '612345678', '12 34 56 78', 'other@example.com', 'abc.def-123', 'sekrit']) {
      expect(kept.includes(needle), `${needle} in ${kept}`).toBe(false);
    }
    expect(kept).toContain('"error":"duplicate"');
    expect(kept).toContain('Bearer [redacted]');
  });

  it('keeps at most 1 KiB, and drops a value cut in half at the end', () => {
    const long = `${'x'.repeat(1015)} camille.q@exa${'y'.repeat(2000)}`;
    const kept = storedResponseBody(long, 500, 'errors')!;
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(1024);
    expect(kept).not.toContain('camille');
    expect(maskPersonalData('call me on 01.23.45.67.89 today')).toBe('call me on [phone] today');
  });
});
