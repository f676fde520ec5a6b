import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { buildTestPublicApp } from '../helpers/apps.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { brand, destination, route } from '../helpers/config-factories.js';

const ORIGIN = 'https://www.merci-plus.example';

const config: LeadgateConfig = {
  brands: [
    brand({ id: 'merciplus', apiKeys: ['mp-key-1', 'mp-key-2'], publishableKeys: ['mp-publishable-key-0123456789'], allowedOrigins: [ORIGIN] }),
    brand({ id: 'limited', apiKeys: ['lim-key'], defaultCountry: 'GB', rateLimitPerMinute: 2 }),
  ],
  destinations: [
    destination({ id: 'crm-main', url: 'http://127.0.0.1:9/leads', timeoutMs: 1000, retry: { delaysMs: [1000] } }),
  ],
  routes: [route({ brands: ['merciplus'], destinations: ['crm-main'] })],
};

const lead = {
  contact: {
    first_name: ' Camille ',
    last_name: 'Martin',
    email: 'Camille.Martin@Example.fr',
    phone: '06 12 34 56 78',
    postal_code: '75011',
    city: '',
  },
  service: 'menage',
  message: 'Devis pour 3 h de ménage par semaine',
  consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté" },
  source: { url: 'https://www.merci-plus.example/devis', form: 'devis', utm: { source: 'google', medium: 'cpc' } },
  meta: { any: 'string values' },
};
/** The `limited` brand defaults to GB, so its phone numbers carry their country. */
const intlLead = { ...lead, contact: { ...lead.contact, phone: '+33 6 12 34 56 78' } };
const PERSONAL = ['Camille', 'Martin', 'camille.martin@example.fr', '+33612345678', '06 12 34 56 78', 'ménage'];

interface Harness {
  app: FastifyInstance;
  store: MemoryStore;
  queue: FakeQueue;
  metrics: Metrics;
  logs: string[];
  setDraining(value: boolean): void;
}

let current: Harness | null = null;

async function start(): Promise<Harness> {
  const logs: string[] = [];
  const logger = pino(loggerOptions('info'), { write: (line: string) => void logs.push(line) });
  const store = new MemoryStore();
  const queue = new FakeQueue();
  const metrics = createMetrics();
  let draining = false;
  const app = await buildTestPublicApp({ config, store, queue, metrics, logger, isDraining: () => draining });
  await app.listen({ port: 0, host: '127.0.0.1' });
  current = { app, store, queue, metrics, logs, setDraining: (v) => (draining = v) };
  return current;
}

afterEach(async () => {
  await current?.app.close();
  current = null;
});

const post = (h: Harness, body: unknown = lead) =>
  request(h.app.server).post('/v1/leads').set('Authorization', 'Bearer mp-key-1').send(body as object);

describe('POST /v1/leads', () => {
  it('accepts a lead: 202, Location, normalised and durable, then enqueued', async () => {
    const h = await start();
    const res = await post(h).set('X-Request-Id', 'req-123').expect(202);
    expect(res.body).toEqual({ id: expect.any(String), status: 'accepted' });
    expect(res.headers.location).toBe(`/v1/leads/${res.body.id}`);
    expect(res.headers['x-request-id']).toBe('req-123');

    const stored = h.store.leads.get(res.body.id);
    expect(stored).toMatchObject({
      id: res.body.id,
      brand: 'merciplus',
      status: 'routed',
      service: 'menage',
      contact: { first_name: 'Camille', last_name: 'Martin', email: 'camille.martin@example.fr', phone: '+33612345678', postal_code: '75011' },
    });
    expect(stored?.contact).not.toHaveProperty('city');
    expect(Date.parse(stored?.received_at ?? '')).not.toBeNaN();

    const deliveries = [...h.store.deliveries.values()];
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ leadId: res.body.id, destination: 'crm-main', status: 'pending' });
    expect(deliveries[0]?.id).not.toBe(res.body.id);
    await h.queue.waitForJobs(1);
    expect(h.queue.jobs[0]?.deliveryId).toBe(deliveries[0]?.id);

    const accepted = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'lead accepted');
    expect(accepted).toMatchObject({ leadId: res.body.id, brand: 'merciplus', deliveries: 1, unrouted: false, reqId: 'req-123' });
    const allLogs = h.logs.join('\n');
    for (const value of PERSONAL) expect(allLogs).not.toContain(value);
  });

  it('accepts X-Api-Key and every key of a brand; replaces an unsafe request id', async () => {
    const h = await start();
    await request(h.app.server).post('/v1/leads').set('X-Api-Key', 'mp-key-2').send(lead).expect(202);
    const res = await request(h.app.server)
      .post('/v1/leads')
      .set('Authorization', 'bearer mp-key-1')
      .set('X-Request-Id', 'evil\tline')
      .send(lead)
      .expect(202);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['no credentials', {}],
    ['an unknown bearer key', { Authorization: 'Bearer nope' }],
    ['an unknown X-Api-Key', { 'X-Api-Key': 'nope' }],
    ['a Basic scheme', { Authorization: 'Basic bXAta2V5LTE6' }],
    ['two different keys', { Authorization: 'Bearer mp-key-1', 'X-Api-Key': 'lim-key' }],
  ])('answers 401 for %s', async (_name, headers) => {
    const h = await start();
    const res = await request(h.app.server).post('/v1/leads').set(headers).send(lead).expect(401);
    expect(res.body).toEqual({ error: 'unauthorized', message: expect.any(String) });
    expect(h.store.leads.size).toBe(0);
  });

  it('refuses a browser origin the brand does not list, allows its own', async () => {
    const h = await start();
    const fromPage = (origin: string) =>
      request(h.app.server).post('/v1/leads').set('Authorization', 'Bearer mp-publishable-key-0123456789').set('Origin', origin).send(lead);
    const denied = await fromPage('https://evil.example').expect(403);
    expect(denied.body.error).toBe('origin_not_allowed');
    const allowed = await fromPage(ORIGIN).expect(202);
    expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(allowed.headers['access-control-expose-headers']).toContain('Location');
  });

  it('answers CORS preflights for configured origins only', async () => {
    const h = await start();
    const ok = await request(h.app.server)
      .options('/v1/leads')
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,idempotency-key')
      .expect(204);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(ok.headers['access-control-allow-methods']).toBe('POST');
    expect(ok.headers['access-control-allow-headers']).toContain('Idempotency-Key');
    const other = await request(h.app.server)
      .options('/v1/leads')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // Only the ingest endpoint speaks CORS: no preflight or CORS header anywhere else.
    const elsewhere = await request(h.app.server)
      .options('/health/live')
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'GET')
      .expect(404);
    expect(elsewhere.headers['access-control-allow-origin']).toBeUndefined();
    const live = await request(h.app.server).get('/health/live').set('Origin', ORIGIN).expect(200);
    expect(live.headers['access-control-allow-origin']).toBeUndefined();
    const unknown = await request(h.app.server).post('/v1/leadz').set('Origin', ORIGIN).send({}).expect(404);
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 415, 413 and 400 invalid_json for bodies it cannot read', async () => {
    const h = await start();
    const auth = { Authorization: 'Bearer mp-key-1' };
    const text = await request(h.app.server).post('/v1/leads').set(auth).set('Content-Type', 'text/plain').send('hi').expect(415);
    expect(text.body.error).toBe('unsupported_media_type');
    const latin = await request(h.app.server)
      .post('/v1/leads')
      .set(auth)
      .set('Content-Type', 'application/json; charset=iso-8859-1')
      .send(JSON.stringify(lead))
      .expect(415);
    expect(latin.body.error).toBe('unsupported_media_type');
    const big = await post(h, { ...lead, message: 'x'.repeat(70 * 1024) }).expect(413);
    expect(big.body.error).toBe('payload_too_large');
    const broken = await request(h.app.server).post('/v1/leads').set(auth).set('Content-Type', 'application/json').send('{"a":').expect(400);
    expect(broken.body).toEqual({ error: 'invalid_json', message: expect.any(String) });
  });

  it('lists every validation error at once, without echoing values', async () => {
    const h = await start();
    const res = await post(h, {
      contact: { email: 'Camille.Martin@Example.fr\u0001', first_name: 42, nickname: 'Cam' },
      service: 'Ménage!',
      consent: { contact: 'yes' },
      meta: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])),
      extra: true,
    }).expect(400);
    expect(res.body.error).toBe('validation_failed');
    const paths = (res.body.details as Array<{ path: string }>).map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/extra', '/contact/email', '/contact/first_name', '/contact/nickname', '/service', '/consent/contact', '/meta']),
    );
    expect(JSON.stringify(res.body)).not.toContain('Camille');
    expect(h.store.leads.size).toBe(0);
  });

  it('rejects an unknown top-level field instead of dropping it', async () => {
    const h = await start();
    const res = await post(h, { ...lead, priority: 'high' }).expect(400);
    expect(res.body.details).toEqual([{ path: '/priority', message: 'is not allowed' }]);
  });

  it('keeps the referrer and first and last touch, and refuses unknown keys inside a touch', async () => {
    const h = await start();
    const first_touch = { url: 'https://www.merci-plus.example/?utm_source=x', referrer: 'https://www.google.com/', utm: { source: 'x' }, at: '2026-01-02T03:04:05.000Z' };
    const last_touch = { url: 'https://www.merci-plus.example/devis?gclid=abc', utm: { gclid: 'abc' }, at: '2026-01-09T03:04:05.000Z' };
    const source = { ...lead.source, referrer: 'https://www.merci-plus.example/', first_touch, last_touch };
    const res = await post(h, { ...lead, source }).expect(202);
    expect(h.store.leads.get(res.body.id)?.source).toEqual(source);

    const bad = await post(h, { ...lead, source: { first_touch: { ...first_touch, campaign: 'spring' } } }).expect(400);
    expect(bad.body.details).toEqual([{ path: '/source/first_touch/campaign', message: 'is not allowed' }]);
  });

  it('rejects an email or phone that normalisation cannot accept', async () => {
    const h = await start();
    const res = await post(h, { ...lead, contact: { email: 'camille@', phone: '12' } }).expect(400);
    expect(res.body.details).toEqual([
      { path: '/contact/email', message: expect.any(String) },
      { path: '/contact/phone', message: expect.any(String) },
    ]);
    const neither = await post(h, { ...lead, contact: { first_name: 'Camille' } }).expect(400);
    expect(neither.body.details).toEqual([{ path: '/contact', message: 'must include email or phone' }]);
  });

  it('counts rejections by brand and code', async () => {
    const h = await start();
    await request(h.app.server).post('/v1/leads').send(lead).expect(401);
    await post(h, { service: 'menage' }).expect(400);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('leadgate_leads_rejected_total{brand="unknown",reason="unauthorized"} 1');
    expect(text).toContain('leadgate_leads_rejected_total{brand="merciplus",reason="validation_failed"} 1');
  });
});

describe('idempotency', () => {
  it('replays the first answer for the same key and body, creating nothing', async () => {
    const h = await start();
    const first = await post(h).set('Idempotency-Key', 'form-42').expect(202);
    await h.queue.waitForJobs(1);
    const again = await post(h).set('Idempotency-Key', 'form-42').expect(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(h.store.leads.size).toBe(1);
    expect(h.store.deliveries.size).toBe(1);
    expect(h.queue.jobs).toHaveLength(1);
  });

  it('answers 422 when the key comes back with another body', async () => {
    const h = await start();
    await post(h).set('Idempotency-Key', 'form-43').expect(202);
    const res = await post(h, { ...lead, service: 'jardinage' }).set('Idempotency-Key', 'form-43').expect(422);
    expect(res.body.error).toBe('idempotency_key_reused');
  });

  it('answers 409 while the first request is in flight', async () => {
    const h = await start();
    h.store.nextIngest = { kind: 'in_flight' };
    const res = await post(h).set('Idempotency-Key', 'form-44').expect(409);
    expect(res.body.error).toBe('idempotency_in_flight');
  });

  it.each([
    ['too long', 'k'.repeat(256)],
    ['with a space', 'a b'],
    ['with a tab', 'a\tb'],
    ['non-ASCII', 'clé'],
  ])('refuses a key %s', async (_name, key) => {
    const h = await start();
    const res = await post(h).set('Idempotency-Key', key).expect(400);
    expect(res.body).toMatchObject({ error: 'validation_failed', details: [{ path: '/headers/idempotency-key' }] });
  });
});

describe('limits and failures', () => {
  it('rate-limits per brand with Retry-After, leaving other brands alone', async () => {
    const h = await start();
    const limited = (body: unknown = intlLead) => request(h.app.server).post('/v1/leads').set('X-Api-Key', 'lim-key').send(body as object);
    // The budget counts accepted leads only: bad requests do not spend it.
    await limited({}).expect(400);
    await limited({}).expect(400);
    await limited().expect(202);
    await limited().expect(202);
    const res = await limited().expect(429);
    expect(res.body).toEqual({ error: 'rate_limited', message: expect.any(String) });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await post(h).expect(202);
  });

  it('answers 503 unavailable with Retry-After when the store is down', async () => {
    const h = await start();
    h.store.down = true;
    const res = await post(h).expect(503);
    expect(res.body.error).toBe('unavailable');
    expect(res.headers['retry-after']).toBe('5');
    expect(h.queue.jobs).toHaveLength(0);
  });

  it('answers 503 while draining', async () => {
    const h = await start();
    h.setDraining(true);
    const res = await post(h).expect(503);
    expect(res.body.error).toBe('unavailable');
    expect(h.store.ingestCalls).toBe(0);
  });

  it('stores an unrouted lead as unrouted and counts it', async () => {
    const h = await start();
    const res = await request(h.app.server).post('/v1/leads').set('X-Api-Key', 'lim-key').send(intlLead).expect(202);
    expect(h.store.leads.get(res.body.id)?.status).toBe('unrouted');
    expect(h.store.deliveries.size).toBe(0);
    expect(await h.metrics.registry.metrics()).toContain('leadgate_leads_unrouted_total{brand="limited"} 1');
  });

  it('still answers 202 when the queue refuses: the lead is durable, the sweeper re-enqueues', async () => {
    const h = await start();
    h.queue.failEnqueue = true;
    const res = await post(h).expect(202);
    expect(h.store.leads.has(res.body.id)).toBe(true);
    expect(h.logs.some((l) => l.includes('enqueue failed'))).toBe(true);
  });

  it('once an enqueue failed, answers 503 while the queue is down and recovers by itself', async () => {
    const h = await start();
    h.queue.down = true;
    await post(h).expect(202); // persisted before the queue was known to be down
    const leadsBefore = h.store.leads.size;
    const refused = await post(h).expect(503);
    expect(refused.body.error).toBe('unavailable');
    expect(refused.headers['retry-after']).toBeDefined();
    expect(h.store.leads.size).toBe(leadsBefore); // nothing persisted for the refused request

    h.queue.down = false;
    await post(h).expect(202);
    expect(h.queue.jobs).toHaveLength(1);
  });
});
