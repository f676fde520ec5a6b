import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
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
  await app.ready();
  current = { app, store, queue, metrics, logs, setDraining: (v) => (draining = v) };
  return current;
}

afterEach(async () => {
  await current?.app.close();
  current = null;
});

/** POST /v1/leads: `send` with exactly these headers, `post` as merciplus (its first secret key). */
const send = (h: Harness, headers: Record<string, string>, body: object | string = lead) =>
  h.app.inject({ method: 'POST', url: '/v1/leads', headers, payload: body });
const post = (h: Harness, body: object = lead, headers: Record<string, string> = {}) =>
  send(h, { authorization: 'Bearer mp-key-1', ...headers }, body);

describe('POST /v1/leads', () => {
  it('accepts a lead: 202, Location, normalised and durable, then enqueued', async () => {
    const h = await start();
    const res = await post(h, lead, { 'x-request-id': 'req-123' });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ id: expect.any(String), status: 'accepted' });
    expect(res.headers.location).toBe(`/v1/leads/${body.id}`);
    expect(res.headers['x-request-id']).toBe('req-123');

    const stored = h.store.leads.get(body.id);
    expect(stored).toMatchObject({
      id: body.id,
      brand: 'merciplus',
      status: 'routed',
      service: 'menage',
      contact: { first_name: 'Camille', last_name: 'Martin', email: 'camille.martin@example.fr', phone: '+33612345678', postal_code: '75011' },
    });
    expect(stored?.contact).not.toHaveProperty('city');
    expect(Date.parse(stored?.received_at ?? '')).not.toBeNaN();

    const deliveries = [...h.store.deliveries.values()];
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ leadId: body.id, destination: 'crm-main', status: 'pending' });
    expect(deliveries[0]?.id).not.toBe(body.id);
    await h.queue.waitForJobs(1);
    expect(h.queue.jobs[0]?.deliveryId).toBe(deliveries[0]?.id);

    const accepted = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'lead accepted');
    expect(accepted).toMatchObject({ leadId: body.id, brand: 'merciplus', deliveries: 1, unrouted: false, reqId: 'req-123' });
    const allLogs = h.logs.join('\n');
    for (const value of PERSONAL) expect(allLogs).not.toContain(value);
  });

  it('accepts X-Api-Key and every key of a brand; replaces an unsafe request id', async () => {
    const h = await start();
    expect((await send(h, { 'x-api-key': 'mp-key-2' })).statusCode).toBe(202);
    const res = await send(h, { authorization: 'bearer mp-key-1', 'x-request-id': 'evil\tline' });
    expect(res.statusCode).toBe(202);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['no credentials', {}],
    ['an unknown bearer key', { Authorization: 'Bearer nope' }],
    ['an unknown X-Api-Key', { 'X-Api-Key': 'nope' }],
    ['a Basic scheme', { Authorization: 'Basic bXAta2V5LTE6' }],
    ['two different keys', { Authorization: 'Bearer mp-key-1', 'X-Api-Key': 'lim-key' }],
  ])('answers 401 for %s', async (_name, headers: Record<string, string>) => {
    const h = await start();
    const res = await send(h, headers);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
    expect(h.store.leads.size).toBe(0);
  });

  it('refuses a browser origin the brand does not list, allows its own', async () => {
    const h = await start();
    const fromPage = (origin: string) => send(h, { authorization: 'Bearer mp-publishable-key-0123456789', origin });
    const denied = await fromPage('https://evil.example');
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toBe('origin_not_allowed');
    const allowed = await fromPage(ORIGIN);
    expect(allowed.statusCode).toBe(202);
    expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(allowed.headers['access-control-expose-headers']).toContain('Location');
  });

  it('answers CORS preflights for configured origins only', async () => {
    const h = await start();
    const ok = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/leads',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' },
    });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(ok.headers['access-control-allow-methods']).toBe('POST');
    expect(ok.headers['access-control-allow-headers']).toContain('Idempotency-Key');
    const other = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/leads',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // Only the ingest endpoint speaks CORS: no preflight or CORS header anywhere else.
    const elsewhere = await h.app.inject({
      method: 'OPTIONS',
      url: '/health/live',
      headers: { origin: ORIGIN, 'access-control-request-method': 'GET' },
    });
    expect(elsewhere.statusCode).toBe(404);
    expect(elsewhere.headers['access-control-allow-origin']).toBeUndefined();
    const live = await h.app.inject({ method: 'GET', url: '/health/live', headers: { origin: ORIGIN } });
    expect(live.statusCode).toBe(200);
    expect(live.headers['access-control-allow-origin']).toBeUndefined();
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/leadz', headers: { origin: ORIGIN }, payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 415, 413 and 400 invalid_json for bodies it cannot read', async () => {
    const h = await start();
    const auth = { authorization: 'Bearer mp-key-1' };
    const text = await send(h, { ...auth, 'content-type': 'text/plain' }, 'hi');
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toBe('unsupported_media_type');
    const latin = await send(h, { ...auth, 'content-type': 'application/json; charset=iso-8859-1' }, JSON.stringify(lead));
    expect(latin.statusCode).toBe(415);
    expect(latin.json().error).toBe('unsupported_media_type');
    const big = await post(h, { ...lead, message: 'x'.repeat(70 * 1024) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('payload_too_large');
    const broken = await send(h, { ...auth, 'content-type': 'application/json' }, '{"a":');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toEqual({ error: 'invalid_json', message: expect.any(String) });
  });

  it('lists every validation error at once, without echoing values', async () => {
    const h = await start();
    const res = await post(h, {
      contact: { email: 'Camille.Martin@Example.fr\u0001', first_name: 42, nickname: 'Cam' },
      service: 'Ménage!',
      consent: { contact: 'yes' },
      meta: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])),
      extra: true,
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('validation_failed');
    const paths = (body.details as Array<{ path: string }>).map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/extra', '/contact/email', '/contact/first_name', '/contact/nickname', '/service', '/consent/contact', '/meta']),
    );
    expect(JSON.stringify(body)).not.toContain('Camille');
    expect(h.store.leads.size).toBe(0);
  });

  it('rejects an unknown top-level field instead of dropping it', async () => {
    const h = await start();
    const res = await post(h, { ...lead, priority: 'high' });
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([{ path: '/priority', message: 'is not allowed' }]);
  });

  it('keeps the referrer and first and last touch, and refuses unknown keys inside a touch', async () => {
    const h = await start();
    const first_touch = { url: 'https://www.merci-plus.example/?utm_source=x', referrer: 'https://www.google.com/', utm: { source: 'x' }, at: '2026-01-02T03:04:05.000Z' };
    const last_touch = { url: 'https://www.merci-plus.example/devis?gclid=abc', utm: { gclid: 'abc' }, at: '2026-01-09T03:04:05.000Z' };
    const source = { ...lead.source, referrer: 'https://www.merci-plus.example/', first_touch, last_touch };
    const res = await post(h, { ...lead, source });
    expect(res.statusCode).toBe(202);
    expect(h.store.leads.get(res.json().id)?.source).toEqual(source);

    const bad = await post(h, { ...lead, source: { first_touch: { ...first_touch, campaign: 'spring' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details).toEqual([{ path: '/source/first_touch/campaign', message: 'is not allowed' }]);
  });

  it('rejects an email or phone that normalisation cannot accept', async () => {
    const h = await start();
    const res = await post(h, { ...lead, contact: { email: 'camille@', phone: '12' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([
      { path: '/contact/email', message: expect.any(String) },
      { path: '/contact/phone', message: expect.any(String) },
    ]);
    const neither = await post(h, { ...lead, contact: { first_name: 'Camille' } });
    expect(neither.statusCode).toBe(400);
    expect(neither.json().details).toEqual([{ path: '/contact', message: 'must include email or phone' }]);
  });

  it('counts rejections by brand and code', async () => {
    const h = await start();
    expect((await send(h, {})).statusCode).toBe(401);
    expect((await post(h, { service: 'menage' })).statusCode).toBe(400);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('leadgate_leads_rejected_total{brand="unknown",reason="unauthorized"} 1');
    expect(text).toContain('leadgate_leads_rejected_total{brand="merciplus",reason="validation_failed"} 1');
  });
});

describe('idempotency', () => {
  it('replays the first answer for the same key and body, creating nothing', async () => {
    const h = await start();
    const first = await post(h, lead, { 'idempotency-key': 'form-42' });
    expect(first.statusCode).toBe(202);
    await h.queue.waitForJobs(1);
    const again = await post(h, lead, { 'idempotency-key': 'form-42' });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(h.store.leads.size).toBe(1);
    expect(h.store.deliveries.size).toBe(1);
    expect(h.queue.jobs).toHaveLength(1);
  });

  it('answers 422 when the key comes back with another body', async () => {
    const h = await start();
    expect((await post(h, lead, { 'idempotency-key': 'form-43' })).statusCode).toBe(202);
    const res = await post(h, { ...lead, service: 'jardinage' }, { 'idempotency-key': 'form-43' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toBe('idempotency_key_reused');
  });

  it('answers 409 while the first request is in flight', async () => {
    const h = await start();
    h.store.nextIngest = { kind: 'in_flight' };
    const res = await post(h, lead, { 'idempotency-key': 'form-44' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('idempotency_in_flight');
  });

  it.each([
    ['too long', 'k'.repeat(256)],
    ['with a space', 'a b'],
    ['with a tab', 'a\tb'],
    ['non-ASCII', 'clé'],
  ])('refuses a key %s', async (_name, key) => {
    const h = await start();
    const res = await post(h, lead, { 'idempotency-key': key });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'validation_failed', details: [{ path: '/headers/idempotency-key' }] });
  });
});

describe('limits and failures', () => {
  it('rate-limits per brand with Retry-After, leaving other brands alone', async () => {
    const h = await start();
    const limited = (body: object = intlLead) => send(h, { 'x-api-key': 'lim-key' }, body);
    // The budget counts accepted leads only: bad requests do not spend it.
    expect((await limited({})).statusCode).toBe(400);
    expect((await limited({})).statusCode).toBe(400);
    expect((await limited()).statusCode).toBe(202);
    expect((await limited()).statusCode).toBe(202);
    const res = await limited();
    expect(res.statusCode).toBe(429);
    expect(res.json()).toEqual({ error: 'rate_limited', message: expect.any(String) });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post(h)).statusCode).toBe(202);
  });

  it('answers 503 unavailable with Retry-After when the store is down', async () => {
    const h = await start();
    h.store.down = true;
    const res = await post(h);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('unavailable');
    expect(res.headers['retry-after']).toBe('5');
    expect(h.queue.jobs).toHaveLength(0);
  });

  it('answers 503 while draining', async () => {
    const h = await start();
    h.setDraining(true);
    const res = await post(h);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('unavailable');
    expect(h.store.ingestCalls).toBe(0);
  });

  it('stores an unrouted lead as unrouted and counts it', async () => {
    const h = await start();
    const res = await send(h, { 'x-api-key': 'lim-key' }, intlLead);
    expect(res.statusCode).toBe(202);
    expect(h.store.leads.get(res.json().id)?.status).toBe('unrouted');
    expect(h.store.deliveries.size).toBe(0);
    expect(await h.metrics.registry.metrics()).toContain('leadgate_leads_unrouted_total{brand="limited"} 1');
  });

  it('still answers 202 when the queue refuses: the lead is durable, the sweeper re-enqueues', async () => {
    const h = await start();
    h.queue.failEnqueue = true;
    const res = await post(h);
    expect(res.statusCode).toBe(202);
    expect(h.store.leads.has(res.json().id)).toBe(true);
    expect(h.logs.some((l) => l.includes('enqueue failed'))).toBe(true);
  });

  it('once an enqueue failed, answers 503 while the queue is down and recovers by itself', async () => {
    const h = await start();
    h.queue.down = true;
    expect((await post(h)).statusCode).toBe(202); // persisted before the queue was known to be down
    const leadsBefore = h.store.leads.size;
    const refused = await post(h);
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toBe('unavailable');
    expect(refused.headers['retry-after']).toBeDefined();
    expect(h.store.leads.size).toBe(leadsBefore); // nothing persisted for the refused request

    h.queue.down = false;
    expect((await post(h)).statusCode).toBe(202);
    expect(h.queue.jobs).toHaveLength(1);
  });
});
