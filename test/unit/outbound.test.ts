import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../src/domain/config.js';
import type { Lead } from '../../src/domain/lead.js';
import { buildLeadCreatedBody, buildLeadErasedPayload, buildOutboundRequest, signWebhook } from '../../src/domain/outbound.js';
import { destination as makeDestination } from '../helpers/config-factories.js';

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

const fullLead: Lead = {
  id: 'lead_01J',
  brand: 'merciplus',
  received_at: '2025-01-15T11:59:59.000Z',
  status: 'routed',
  contact: { first_name: 'Camille', last_name: 'Martin', email: 'camille.martin@example.fr', phone: '+33612345678', postal_code: '75011', city: 'Paris' },
  service: 'menage',
  message: 'Devis pour 3 h de ménage par semaine',
  consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté", text_version: 'v3' },
  source: { url: 'https://www.merci-plus.example/devis', form: 'devis', utm: { source: 'google', medium: 'cpc' } },
  meta: { campaign: 'spring' },
  proof: { key_kind: 'publishable', ip: '203.0.113.0/24', user_agent: 'Mozilla/5.0' },
};

const minimalLead: Lead = {
  id: 'lead_02',
  brand: 'merciplus',
  received_at: '2025-01-15T11:59:59.000Z',
  status: 'routed',
  contact: { phone: '+33612345678' },
  service: 'menage',
};

function destination(overrides: Partial<DestinationConfig> = {}): DestinationConfig {
  return makeDestination({ id: 'crm-main', url: 'http://127.0.0.1:9000/leads', retry: { delaysMs: [5_000] }, ...overrides });
}

describe('buildLeadCreatedBody', () => {
  it('names the earlier lead of a duplicate, and only of a duplicate', () => {
    const now = new Date('2025-01-15T12:00:00.000Z');
    const body = JSON.parse(buildLeadCreatedBody({ ...fullLead, duplicate_of: 'earlier-lead' }, now));
    expect(body.data.duplicate_of).toBe('earlier-lead');
    expect(JSON.parse(buildLeadCreatedBody(fullLead, now)).data).not.toHaveProperty('duplicate_of');
  });

  it('is the contract body', () => {
    const now = new Date('2025-01-15T12:00:00.000Z');
    expect(JSON.parse(buildLeadCreatedBody(fullLead, now))).toEqual({
      type: 'lead.created',
      timestamp: '2025-01-15T12:00:00.000Z',
      data: {
        id: 'lead_01J',
        brand: 'merciplus',
        received_at: '2025-01-15T11:59:59.000Z',
        contact: fullLead.contact,
        service: 'menage',
        message: fullLead.message,
        consent: fullLead.consent,
        proof: {
          received_at: '2025-01-15T11:59:59.000Z',
          source_url: 'https://www.merci-plus.example/devis',
          form: 'devis',
          key_kind: 'publishable',
          ip: '203.0.113.0/24',
          user_agent: 'Mozilla/5.0',
        },
        source: fullLead.source,
        meta: { campaign: 'spring' },
      },
    });
  });

  it('lead.erased carries the ids and the erasure time only', () => {
    const now = new Date('2026-01-15T12:00:00.000Z');
    expect(buildLeadErasedPayload({ id: 'lead_01J', brand: 'merciplus', erased_at: '2026-01-15T11:00:00.000Z' }, now)).toEqual({
      type: 'lead.erased',
      timestamp: '2026-01-15T12:00:00.000Z',
      data: { id: 'lead_01J', brand: 'merciplus', erased_at: '2026-01-15T11:00:00.000Z' },
    });
  });

  it('omits an absent message, defaults consent/source/meta to {} and never sends status', () => {
    const body = JSON.parse(buildLeadCreatedBody(minimalLead, new Date())) as { data: Record<string, unknown> };
    expect(body.data).toEqual({
      id: 'lead_02',
      brand: 'merciplus',
      received_at: '2025-01-15T11:59:59.000Z',
      contact: { phone: '+33612345678' },
      service: 'menage',
      consent: {},
      proof: { received_at: '2025-01-15T11:59:59.000Z' },
      source: {},
      meta: {},
    });
    expect(Object.values(body.data)).not.toContain(null);
  });
});

describe('signWebhook', () => {
  it('is verified by the standardwebhooks library', () => {
    const key = secret();
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"hello":"world"}';
    const signature = signWebhook([key], 'msg_1', ts, body);
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signature };
    expect(new Webhook(key).verify(body, headers)).toEqual({ hello: 'world' });
    expect(() => new Webhook(key).verify(`${body} `, headers)).toThrow();
    expect(() => new Webhook(secret()).verify(body, headers)).toThrow();
  });

  it('matches the library for a known key', () => {
    const key = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const ts = 1_614_265_330;
    const expected = new Webhook(key).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(ts * 1000), '{"test": 2432232314}');
    expect(signWebhook([key], 'msg_p5jXN8AQM9LWM0D4loKWxJek', ts, '{"test": 2432232314}')).toBe(expected);
  });

  it('signs with every secret during a rotation, each verifiable on its own', () => {
    const [oldKey, newKey] = [secret(), secret()];
    const ts = Math.floor(Date.now() / 1000);
    const signature = signWebhook([newKey, oldKey], 'msg_2', ts, '{}');
    expect(signature.split(' ')).toHaveLength(2);
    const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': signature };
    for (const key of [oldKey, newKey]) expect(() => new Webhook(key).verify('{}', headers)).not.toThrow();
  });

  it('rejects a secret that is not base64, without echoing it', () => {
    expect(() => signWebhook(['whsec_not base64!!'], 'm', 1, '{}')).toThrow(/^signing secret is not whsec_<base64>$/);
  });
});

describe('buildOutboundRequest', () => {
  const now = new Date();
  const ts = String(Math.floor(now.getTime() / 1000));

  it('sets content type, user agent, Standard Webhooks headers and the destination headers', () => {
    const key = secret();
    const req = buildOutboundRequest(
      fullLead,
      destination({ signingSecrets: [key], headers: { Authorization: 'Bearer t0k', 'X-Tenant': 'fr' }, timeoutMs: 2_500 }),
      'dlv_abc',
      now,
      { userAgent: 'leadgate/9.9.9' },
    );
    expect(req.url).toBe('http://127.0.0.1:9000/leads');
    expect(req.timeoutMs).toBe(2_500);
    expect(req.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'leadgate/9.9.9',
      authorization: 'Bearer t0k',
      'x-tenant': 'fr',
      'webhook-id': 'dlv_abc',
      'webhook-timestamp': ts,
      'webhook-signature': expect.stringMatching(/^v1,/),
    });
    expect(req.body).toBe(buildLeadCreatedBody(fullLead, now));
    expect(new Webhook(key).verify(req.body, req.headers)).toMatchObject({ type: 'lead.created' });
  });

  it('omits webhook-signature without a secret and defaults the user agent', () => {
    const req = buildOutboundRequest(minimalLead, destination(), 'dlv_1', now);
    expect(req.headers['webhook-signature']).toBeUndefined();
    expect(req.headers['user-agent']).toBe('leadgate');
    expect(req.headers['webhook-id']).toBe('dlv_1');
    expect(req.headers['webhook-timestamp']).toBe(ts);
  });

  it('does not let configured headers override the webhook headers or duplicate content-type', () => {
    const req = buildOutboundRequest(
      minimalLead,
      destination({ headers: { 'Webhook-Id': 'spoof', 'Content-Type': 'application/vnd.crm+json', Host: 'evil' } }),
      'dlv_1',
      now,
    );
    expect(req.headers['webhook-id']).toBe('dlv_1');
    expect(req.headers['content-type']).toBe('application/vnd.crm+json');
    expect(Object.keys(req.headers).filter((h) => h.toLowerCase() === 'content-type')).toHaveLength(1);
    expect(req.headers.host).toBeUndefined();
  });

  it('keeps the same webhook-id across retries but a fresh timestamp and signature', () => {
    const key = secret();
    const d = destination({ signingSecrets: [key] });
    const first = buildOutboundRequest(minimalLead, d, 'dlv_1', new Date(now.getTime() - 60_000));
    const second = buildOutboundRequest(minimalLead, d, 'dlv_1', now);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(() => new Webhook(key).verify(second.body, second.headers)).not.toThrow();
  });
});
