import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../src/domain/config.js';
import type { Lead } from '../../src/domain/lead.js';
import { buildLeadCreatedBody, buildOutboundRequest, staticAuthorization } from '../../src/domain/outbound.js';
import { destination as makeDestination } from '../helpers/config-factories.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OTHER_SECRET = 'whsec_dGVzdC1zZWNyZXQtbnVtYmVyLXR3bw==';
const now = new Date('2025-01-15T12:00:00.000Z');

const lead: Lead = {
  id: 'lead_01J',
  brand: 'merciplus',
  received_at: '2025-01-15T11:59:59.000Z',
  status: 'routed',
  contact: { first_name: 'Zoé', email: 'zoe@example.fr', phone: '+33612345678' },
  service: 'menage',
  message: 'Ménage & repassage',
};

const destination = (overrides: Partial<DestinationConfig> = {}) =>
  makeDestination({ id: 'crm', url: 'http://127.0.0.1:9000/leads', signingSecrets: [SECRET], ...overrides });

describe('format: form', () => {
  it('encodes the default payload as a form, byte for byte, and signs those bytes', () => {
    const req = buildOutboundRequest(lead, destination({ format: 'form' }), 'dlv_1', now);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.body).toBe(
      'type=lead.created&timestamp=2025-01-15T12%3A00%3A00.000Z&data%5Bid%5D=lead_01J&data%5Bbrand%5D=merciplus' +
        '&data%5Breceived_at%5D=2025-01-15T11%3A59%3A59.000Z&data%5Bcontact%5D%5Bfirst_name%5D=Zo%C3%A9' +
        '&data%5Bcontact%5D%5Bemail%5D=zoe%40example.fr&data%5Bcontact%5D%5Bphone%5D=%2B33612345678' +
        '&data%5Bservice%5D=menage&data%5Bmessage%5D=M%C3%A9nage+%26+repassage' +
        '&data%5Bproof%5D%5Breceived_at%5D=2025-01-15T11%3A59%3A59.000Z',
    );
    // The signature is over the form bytes: standardwebhooks verifies the raw body (its
    // timestamp check wants a current time, hence a second request built now).
    const live = buildOutboundRequest(lead, destination({ format: 'form' }), 'dlv_1', new Date());
    expect(() => new Webhook(SECRET).verify(live.body, live.headers, { jsonParse: false })).not.toThrow();
    expect(() => new Webhook(SECRET).verify(`${live.body}&x=1`, live.headers, { jsonParse: false })).toThrow();
  });

  it('encodes a transformed payload', () => {
    const req = buildOutboundRequest(lead, destination({ format: 'form' }), 'dlv_1', now, {
      payload: { nom: 'Zoé', produits: ['menage', 'repassage'] },
    });
    expect(req.body).toBe('nom=Zo%C3%A9&produits=menage&produits=repassage');
  });

  it('keeps json for format json, with a transformed payload', () => {
    const req = buildOutboundRequest(lead, destination(), 'dlv_1', new Date(), { payload: { Name: 'Zoé' } });
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toBe('{"Name":"Zoé"}');
    expect(new Webhook(SECRET).verify(req.body, req.headers)).toEqual({ Name: 'Zoé' });
  });

  it('sends the contract body by default', () => {
    expect(buildOutboundRequest(lead, destination(), 'dlv_1', now).body).toBe(buildLeadCreatedBody(lead, now));
  });
});

describe('auth', () => {
  it('basic: base64 of user:password in UTF-8 (RFC 7617)', () => {
    expect(staticAuthorization({ type: 'basic', username: 'crm-user', password: 'pässword:1' })).toBe(
      `Basic ${Buffer.from('crm-user:pässword:1', 'utf8').toString('base64')}`,
    );
    expect(staticAuthorization({ type: 'basic', username: 'Aladdin', password: 'open sesame' })).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    const req = buildOutboundRequest(lead, destination({ auth: { type: 'basic', username: 'Aladdin', password: 'open sesame' } }), 'd', now);
    expect(req.headers.authorization).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });

  it('bearer: the configured token', () => {
    const req = buildOutboundRequest(lead, destination({ auth: { type: 'bearer', token: 'tok_123' } }), 'd', now);
    expect(req.headers.authorization).toBe('Bearer tok_123');
  });

  it('auth replaces an Authorization among the static headers, which are otherwise kept', () => {
    const req = buildOutboundRequest(
      lead,
      destination({ headers: { Authorization: 'Bearer static', 'X-Tenant': 'fr' }, auth: { type: 'bearer', token: 'tok_1' } }),
      'd',
      now,
    );
    expect(req.headers).toMatchObject({ authorization: 'Bearer tok_1', 'x-tenant': 'fr' });
    expect(Object.keys(req.headers).filter((h) => h === 'authorization')).toHaveLength(1);
  });

  it('oauth2: no header until a token is given at send time', () => {
    const auth = { type: 'oauth2' as const, tokenUrl: 'http://idp.test/token', clientId: 'id', clientSecret: 's', scope: null, audience: null };
    expect(buildOutboundRequest(lead, destination({ auth }), 'd', now).headers.authorization).toBeUndefined();
    expect(buildOutboundRequest(lead, destination({ auth }), 'd', now, { authorization: 'Bearer at_1' }).headers.authorization).toBe('Bearer at_1');
  });
});

describe('signing secrets (rotation)', () => {
  it('lists one signature per secret; each secret alone verifies, in json and in form', () => {
    for (const format of ['json', 'form'] as const) {
      const req = buildOutboundRequest(lead, destination({ format, signingSecrets: [SECRET, OTHER_SECRET] }), 'dlv_1', new Date());
      const signatures = req.headers['webhook-signature']!.split(' ');
      expect(signatures).toHaveLength(2);
      for (const s of signatures) expect(s).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      for (const secret of [SECRET, OTHER_SECRET]) {
        expect(() => new Webhook(secret).verify(req.body, req.headers, { jsonParse: false })).not.toThrow();
        // Each signature alone is the one for its secret.
        const [own] = signatures.filter((s) => {
          try {
            new Webhook(secret).verify(req.body, { ...req.headers, 'webhook-signature': s }, { jsonParse: false });
            return true;
          } catch {
            return false;
          }
        });
        expect(own).toBe(signatures[secret === SECRET ? 0 : 1]);
      }
      expect(() => new Webhook('whsec_bm90LXRoZS1yaWdodC1zZWNyZXQ=').verify(req.body, req.headers, { jsonParse: false })).toThrow();
    }
  });
});
