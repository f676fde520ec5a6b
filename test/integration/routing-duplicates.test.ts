import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { buildTestApps } from '../helpers/apps.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

/** Routing rules and duplicate detection through the HTTP app (memory store, fake queue, injected clock). */

const TOKEN = 'admin-token-for-tests-0123456789abcdef';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const HOUR = 3_600_000;
const WINDOW = 24 * HOUR;

const crm = (id: string) => destination({ id, url: `http://127.0.0.1:9/${id}`, timeoutMs: 1000, retry: { delaysMs: [1000] } });

const config: LeadgateConfig = {
  brands: [
    brand({ id: 'merciplus', apiKeys: ['mp-key'], duplicateWindowMs: WINDOW }),
    brand({ id: 'kidcare', apiKeys: ['kc-key'] }),
  ],
  destinations: ['paris-crm', 'marketing-crm', 'default-crm', 'call-centre'].map(crm),
  routes: [
    route({ postalCodes: ['75*', '92*'], destinations: ['paris-crm'] }),
    route({ consent: { marketing: true }, destinations: ['marketing-crm'] }),
    route({ postalCodes: ['13*'], destinations: ['default-crm'] }),
    route({ services: ['garde'], meta: { channel: ['phone'] }, destinations: ['call-centre'], forwardDuplicates: false }),
  ],
};

interface LeadBody {
  contact: Record<string, string>;
  service: string;
  consent?: { contact?: boolean; marketing?: boolean };
  meta?: Record<string, string>;
}

const parisian: LeadBody = {
  contact: { first_name: 'Camille', email: 'Camille.Martin@Example.fr', phone: '06 12 34 56 78', postal_code: '75011' },
  service: 'menage',
  consent: { contact: true, marketing: true },
};
const marseillais: LeadBody = {
  contact: { email: 'lea.dupont@example.fr', postal_code: '13001' },
  service: 'menage',
  consent: { contact: true, marketing: false },
};
const bordelais: LeadBody = { contact: { email: 'jean.petit@example.fr', postal_code: '33000' }, service: 'menage' };

interface Harness {
  app: FastifyInstance;
  opsApp: FastifyInstance;
  store: MemoryStore;
  queue: FakeQueue;
  metrics: Metrics;
  clock: { now: number };
}

let current: Harness | null = null;

async function start(): Promise<Harness> {
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = new MemoryStore(now);
  const queue = new FakeQueue();
  const metrics = createMetrics();
  const { publicApp: app, opsApp } = await buildTestApps({ config, store, queue, metrics, logger: pino({ level: 'silent' }), adminToken: TOKEN, now });
  await app.ready();
  await opsApp.ready();
  current = { app, opsApp, store, queue, metrics, clock };
  return current;
}

afterEach(async () => {
  await current?.app.close();
  await current?.opsApp.close();
  current = null;
});

const send = (h: Harness, body: LeadBody, key = 'mp-key') =>
  h.app.inject({ method: 'POST', url: '/v1/leads', headers: { authorization: `Bearer ${key}` }, payload: body });

async function post(h: Harness, body: LeadBody, key = 'mp-key'): Promise<string> {
  const res = await send(h, body, key);
  expect(res.statusCode).toBe(202);
  return res.json().id as string;
}

async function show(h: Harness, id: string) {
  const res = await h.opsApp.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode).toBe(200);
  return res.json() as { status: string; duplicate_of?: string; deliveries: { destination: string }[] };
}

const destinationsOf = async (h: Harness, id: string) => (await show(h, id)).deliveries.map((d) => d.destination);

async function metricValue(h: Harness, name: string, brandId: string): Promise<number> {
  const metric = await h.metrics.registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => v.labels.brand === brandId)?.value ?? 0;
}

describe('routing rules through POST /v1/leads', () => {
  it('fans a lead out to every matching route, each destination once, and enqueues each delivery', async () => {
    const h = await start();
    const id = await post(h, parisian);
    const lead = await show(h, id);
    expect(lead.status).toBe('routed');
    expect(lead.deliveries.map((d) => d.destination).sort()).toEqual(['marketing-crm', 'paris-crm']);
    await h.queue.waitForJobs(2);
    expect(h.queue.jobs).toHaveLength(2);

    expect(await destinationsOf(h, await post(h, marseillais))).toEqual(['default-crm']);
  });

  it('keeps a lead no route matches as unrouted, visible in the admin API and counted', async () => {
    const h = await start();
    const id = await post(h, bordelais);
    const lead = await show(h, id);
    expect(lead).toMatchObject({ id, status: 'unrouted', deliveries: [] });
    expect(lead).not.toHaveProperty('duplicate_of');
    expect(await metricValue(h, 'leadgate_leads_unrouted_total', 'merciplus')).toBe(1);
    expect(h.queue.jobs).toHaveLength(0);
  });

  it('a lead without a postal code reaches no postal-code route', async () => {
    const h = await start();
    const { postal_code: _drop, ...contact } = parisian.contact;
    expect(await destinationsOf(h, await post(h, { ...parisian, contact }))).toEqual(['marketing-crm']);
  });
});

describe('duplicate leads', () => {
  it('flags a lead with the same email and service within the window, shown by the admin API and counted', async () => {
    const h = await start();
    const first = await post(h, parisian);
    h.clock.now = T0 + WINDOW - 1;
    // Same email in another case, another phone: still the same person for this service.
    const second = await post(h, { ...parisian, contact: { ...parisian.contact, email: 'camille.MARTIN@example.fr', phone: '+33 7 98 76 54 32' } });
    expect((await show(h, second)).duplicate_of).toBe(first);
    expect(h.store.leads.get(second)?.duplicate_of).toBe(first);
    expect((await show(h, first)).duplicate_of).toBeUndefined();
    expect(await metricValue(h, 'leadgate_leads_duplicate_total', 'merciplus')).toBe(1);
  });

  it('matches on the normalised phone alone, and points at the most recent earlier lead', async () => {
    const h = await start();
    const byPhone = (email: string): LeadBody => ({ ...parisian, contact: { phone: '06 12 34 56 78', email } });
    const first = await post(h, byPhone('a@example.fr'));
    h.clock.now = T0 + HOUR;
    const second = await post(h, { ...byPhone('b@example.fr'), contact: { phone: '+33612345678', email: 'b@example.fr' } });
    h.clock.now = T0 + 2 * HOUR;
    const third = await post(h, byPhone('c@example.fr'));
    expect((await show(h, second)).duplicate_of).toBe(first);
    expect((await show(h, third)).duplicate_of).toBe(second);
  });

  it('does not flag a lead after the window, nor one for another service or brand', async () => {
    const h = await start();
    await post(h, parisian);
    h.clock.now = T0 + WINDOW + 1;
    const late = await post(h, parisian);
    expect((await show(h, late)).duplicate_of).toBeUndefined();

    const otherService = await post(h, { ...parisian, service: 'jardinage' });
    expect((await show(h, otherService)).duplicate_of).toBeUndefined();
    expect(await metricValue(h, 'leadgate_leads_duplicate_total', 'merciplus')).toBe(0);
  });

  it('is off for a brand without duplicate_window', async () => {
    const h = await start();
    await post(h, parisian, 'kc-key');
    const again = await post(h, parisian, 'kc-key');
    expect((await show(h, again)).duplicate_of).toBeUndefined();
    expect(await h.store.findDuplicate(['anything'], 0)).toBeNull();
  });

  it('the exact window edge still counts (received at or after now - window)', async () => {
    const h = await start();
    const first = await post(h, parisian);
    h.clock.now = T0 + WINDOW;
    expect((await show(h, await post(h, parisian))).duplicate_of).toBe(first);
  });

  it('a route with forward_duplicates: false creates no delivery for a duplicate; forwarding routes still do', async () => {
    const h = await start();
    const phoneLead: LeadBody = { ...parisian, service: 'garde', meta: { channel: 'phone' } };
    const first = await post(h, phoneLead);
    expect((await destinationsOf(h, first)).sort()).toEqual(['call-centre', 'marketing-crm', 'paris-crm']);

    h.clock.now = T0 + HOUR;
    const duplicate = await post(h, phoneLead);
    const shown = await show(h, duplicate);
    expect(shown.duplicate_of).toBe(first);
    expect(shown.deliveries.map((d) => d.destination).sort()).toEqual(['marketing-crm', 'paris-crm']);

    // Only the non-forwarding route matches: the duplicate goes nowhere and is kept unrouted.
    const onlyCallCentre: LeadBody = { contact: { email: 'x@example.fr' }, service: 'garde', meta: { channel: 'phone' } };
    const a = await post(h, onlyCallCentre);
    expect(await destinationsOf(h, a)).toEqual(['call-centre']);
    const b = await post(h, onlyCallCentre);
    expect(await show(h, b)).toMatchObject({ status: 'unrouted', duplicate_of: a, deliveries: [] });
  });

  it('answers 503, not 500, when the store fails the duplicate lookup', async () => {
    const h = await start();
    h.store.failNext = 1;
    const res = await send(h, parisian);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('unavailable');
    expect(h.store.leads.size).toBe(0);
  });
});
