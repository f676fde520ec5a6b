import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { buildTestApps } from '../helpers/apps.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { brand, destination, route } from '../helpers/config-factories.js';

/** Health, metrics, the demo CRM and which listener serves what, driven with app.inject() over in-memory ports. */

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const config: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key'] })],
  destinations: [
    destination({ id: 'crm-main', url: 'http://127.0.0.1:9/leads', timeoutMs: 1000, retry: { delaysMs: [] } }),
    destination({ id: 'crm-idle', url: 'http://127.0.0.1:9/leads', timeoutMs: 1000, retry: { delaysMs: [] } }),
  ],
  routes: [route({ destinations: ['crm-main'] })],
};
const lead = { contact: { email: 'camille.martin@example.fr', phone: '06 12 34 56 78' }, service: 'menage' };

interface Harness {
  /** The ops listener. */
  app: FastifyInstance;
  publicApp: FastifyInstance;
  store: MemoryStore;
  queue: FakeQueue;
  metrics: Metrics;
  clock: { now: number };
  setDraining(value: boolean): void;
}

let current: Harness | null = null;

async function start(options: { demoCrm?: boolean; adminToken?: string } = {}): Promise<Harness> {
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = new MemoryStore(now);
  const queue = new FakeQueue();
  const metrics = createMetrics();
  let draining = false;
  const { opsApp: app, publicApp } = await buildTestApps({
    config,
    store,
    queue,
    metrics,
    logger: pino({ level: 'silent' }),
    adminToken: options.adminToken ?? null,
    isDraining: () => draining,
    demoCrm: options.demoCrm,
    now,
  });
  current = { app, publicApp, store, queue, metrics, clock, setDraining: (v) => (draining = v) };
  return current;
}

afterEach(async () => {
  await current?.app.close();
  await current?.publicApp.close();
  current = null;
});

const get = (h: Harness, url: string) => h.app.inject({ method: 'GET', url });

async function ingest(h: Harness): Promise<string> {
  const res = await h.publicApp.inject({ method: 'POST', url: '/v1/leads', headers: { 'x-api-key': 'mp-key' }, payload: lead });
  expect(res.statusCode).toBe(202);
  return res.json<{ id: string }>().id;
}

describe('health', () => {
  it('is live, and ready only while store and queue answer and not draining', async () => {
    const h = await start();
    expect((await get(h, '/health/live')).json()).toEqual({ status: 'ok' });
    const ready = await get(h, '/health/ready');
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ok', checks: { store: 'ok', queue: 'ok' } }]);

    h.queue.down = true;
    const queueDown = await get(h, '/health/ready');
    expect([queueDown.statusCode, queueDown.json()]).toEqual([503, { status: 'unavailable', checks: { store: 'ok', queue: 'failing' } }]);
    h.queue.down = false;
    h.store.down = true;
    expect((await get(h, '/health/ready')).json().checks.store).toBe('failing');
    h.store.down = false;

    h.setDraining(true);
    const draining = await get(h, '/health/ready');
    expect([draining.statusCode, draining.json().status]).toEqual([503, 'draining']);
    expect((await get(h, '/health/live')).statusCode).toBe(200);
  });

  it('answers health on both listeners', async () => {
    const h = await start();
    for (const app of [h.app, h.publicApp]) {
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    }
  });

  it('reports a check that hangs as timed out after a second', async () => {
    const h = await start();
    h.store.ping = () => new Promise<void>(() => {});
    const res = await get(h, '/health/ready');
    expect([res.statusCode, res.json()]).toEqual([503, { status: 'unavailable', checks: { store: 'timeout', queue: 'ok' } }]);
  });
});

describe('metrics', () => {
  it('exports every contract metric, with store figures and no personal data', async () => {
    const h = await start();
    const id = await ingest(h);
    expect((await h.publicApp.inject({ method: 'POST', url: '/v1/leads', payload: lead })).statusCode).toBe(401);
    h.clock.now += 30_000;

    const res = await get(h, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'leadgate_leads_accepted_total',
      'leadgate_leads_rejected_total',
      'leadgate_deliveries_total',
      'leadgate_delivery_duration_seconds',
      'leadgate_deliveries_pending',
      'leadgate_deliveries_dead',
      'leadgate_oldest_pending_delivery_age_seconds',
      'leadgate_http_request_duration_seconds',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(res.body).toContain(name);
    }
    expect(res.body).toContain('leadgate_leads_accepted_total{brand="merciplus"} 1');
    expect(res.body).toContain('leadgate_leads_rejected_total{brand="unknown",reason="unauthorized"} 1');
    expect(res.body).toContain('leadgate_deliveries_pending{destination="crm-main"} 1');
    expect(res.body).toContain('leadgate_deliveries_pending{destination="crm-idle"} 0');
    expect(res.body).toContain('leadgate_oldest_pending_delivery_age_seconds{destination="crm-main"} 30');
    expect(res.body).toMatch(/leadgate_http_request_duration_seconds_count\{method="POST",route="\/v1\/leads",status_code="202"\} 1/);
    expect(res.body).not.toContain(id);
    expect(res.body).not.toContain('camille');
    expect(res.body).not.toContain('33612345678');
  });

  it('queries the store for metrics at most once a second', async () => {
    const h = await start();
    await ingest(h);
    let calls = 0;
    const stats = h.store.stats.bind(h.store);
    h.store.stats = async () => {
      calls += 1;
      return stats();
    };
    await get(h, '/metrics');
    await get(h, '/metrics');
    expect(calls).toBe(1);
    h.clock.now += 1000;
    await get(h, '/metrics');
    expect(calls).toBe(2);
  });

  it('still renders when the store cannot give figures', async () => {
    const h = await start();
    h.store.down = true;
    const res = await get(h, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('leadgate_leads_accepted_total');
  });

  it('computes leadgate_ready at each scrape, without any readiness call before', async () => {
    const h = await start();
    expect((await get(h, '/metrics')).body).toMatch(/^leadgate_ready 1$/m);
    h.store.down = true;
    expect((await get(h, '/metrics')).body).toMatch(/^leadgate_ready 0$/m);
    h.store.down = false;
    h.setDraining(true);
    expect((await get(h, '/metrics')).body).toMatch(/^leadgate_ready 0$/m);
  });

  it('labels unmatched routes as such', async () => {
    const h = await start();
    expect((await get(h, '/no/such/lead-id-123')).statusCode).toBe(404);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('route="unmatched"');
    expect(text).not.toContain('lead-id-123');
  });
});

describe('two listeners', () => {
  const TOKEN = 'admin-token-for-tests-0123456789abcdef';

  it('serves ops paths, the admin API and the demo CRM on the ops listener only', async () => {
    const h = await start({ demoCrm: true, adminToken: TOKEN });
    const admin = { authorization: `Bearer ${TOKEN}` };
    const opsOnly = ['/metrics', '/openapi.json', '/docs', '/demo/crm/leads', '/v1/destinations', '/v1/deliveries'];
    for (const url of opsOnly) {
      const onPublic = await h.publicApp.inject({ method: 'GET', url, headers: admin });
      expect([url, onPublic.statusCode, onPublic.json()]).toEqual([url, 404, { error: 'not_found', message: 'Not found' }]);
      const onOps = await h.app.inject({ method: 'GET', url, headers: admin });
      expect([url, onOps.statusCode < 400]).toEqual([url, true]);
    }
    const id = await ingest(h);
    expect((await h.publicApp.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: admin })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: admin })).statusCode).toBe(200);
    // Ingest is public only.
    expect((await h.app.inject({ method: 'POST', url: '/v1/leads', headers: { 'x-api-key': 'mp-key' }, payload: lead })).statusCode).toBe(404);
  });
});

describe('demo CRM', () => {
  it('records what it receives, by id only', async () => {
    const h = await start({ demoCrm: true });
    const sent = await h.app.inject({
      method: 'POST',
      url: '/demo/crm/leads',
      headers: { 'webhook-id': 'dlv-1' },
      payload: { type: 'lead.created', data: { id: 'lead-1', brand: 'merciplus', service: 'menage', contact: { email: 'x@y.fr' } } },
    });
    expect(sent.statusCode).toBe(200);
    const res = await get(h, '/demo/crm/leads');
    expect(res.json().items).toEqual([
      { webhook_id: 'dlv-1', received_at: new Date(T0).toISOString(), lead_id: 'lead-1', brand: 'merciplus', service: 'menage' },
    ]);
    expect(res.body).not.toContain('x@y.fr');
  });

  it('takes bodies larger than the ingest limit', async () => {
    const h = await start({ demoCrm: true });
    const payload = { data: { id: 'lead-2' }, padding: 'x'.repeat(200 * 1024) };
    expect((await h.app.inject({ method: 'POST', url: '/demo/crm/leads', payload })).statusCode).toBe(200);
  });

  it('is absent unless asked for', async () => {
    const h = await start();
    expect((await get(h, '/demo/crm/leads')).statusCode).toBe(404);
  });
});
