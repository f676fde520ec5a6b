import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import type { Delivery } from '../../src/domain/delivery.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { buildTestApps } from '../helpers/apps.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { brand, destination, route } from '../helpers/config-factories.js';

const TOKEN = 'admin-token-for-tests-0123456789abcdef';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

const config: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key'] })],
  destinations: ['crm-main', 'crm-b'].map((id) =>
    destination({ id, url: 'http://127.0.0.1:9/leads', timeoutMs: 1000, retry: { delaysMs: [1000] } }),
  ),
  routes: [route({ destinations: ['crm-main', 'crm-b'] })],
};

const lead = { contact: { email: 'camille.martin@example.fr', phone: '06 12 34 56 78' }, service: 'menage' };

interface Harness {
  /** The ops listener, where the admin API lives. */
  app: FastifyInstance;
  publicApp: FastifyInstance;
  store: MemoryStore;
  queue: FakeQueue;
  metrics: Metrics;
  clock: { now: number };
}

let current: Harness | null = null;

async function start(options: { adminToken?: string | null } = {}): Promise<Harness> {
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = new MemoryStore(now);
  const queue = new FakeQueue();
  const metrics = createMetrics();
  const { opsApp: app, publicApp } = await buildTestApps({
    config,
    store,
    queue,
    metrics,
    logger: pino({ level: 'silent' }),
    adminToken: options.adminToken === undefined ? TOKEN : options.adminToken,
    now,
  });
  await app.ready();
  await publicApp.ready();
  current = { app, publicApp, store, queue, metrics, clock };
  return current;
}

afterEach(async () => {
  await current?.app.close();
  await current?.publicApp.close();
  current = null;
});

async function ingest(h: Harness): Promise<string> {
  const res = await h.publicApp.inject({ method: 'POST', url: '/v1/leads', headers: { 'x-api-key': 'mp-key' }, payload: lead });
  expect(res.statusCode).toBe(202);
  return res.json().id as string;
}

/** Moves a delivery to dead the way the worker would. */
async function kill(h: Harness, delivery: Delivery): Promise<void> {
  await h.store.recordAttempt({
    attempt: {
      deliveryId: delivery.id,
      number: 1,
      startedAt: h.clock.now,
      durationMs: 12,
      statusCode: 400,
      errorClass: 'http_status',
      error: 'http 400',
      responseBody: 'bad',
      outcome: 'dead',
    },
    status: 'dead',
    nextAttemptAt: null,
  });
}

const admin = (h: Harness) => ({
  get: (url: string) => h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}` } }),
  post: (url: string, payload?: InjectOptions['payload']) =>
    h.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}` }, payload }),
});

describe('admin API', () => {
  it('needs the admin token', async () => {
    const h = await start();
    const id = await ingest(h);
    for (const auth of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, 'Bearer mp-key']) {
      const res = await h.app.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: auth === undefined ? {} : { authorization: auth } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('unauthorized');
    }
  });

  it('is not there without a token', async () => {
    const h = await start({ adminToken: null });
    const res = await h.app.inject({ method: 'GET', url: '/v1/deliveries', headers: { authorization: 'Bearer x' } });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('not_found');
  });

  it('shows a lead with its deliveries and their history', async () => {
    const h = await start();
    const id = await ingest(h);
    const [first] = await h.store.listDeliveriesOfLead(id);
    if (!first) throw new Error('no delivery');
    await kill(h, first);

    const res = await admin(h).get(`/v1/leads/${id}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      id,
      brand: 'merciplus',
      status: 'routed',
      received_at: new Date(T0).toISOString(),
      contact: { email: 'camille.martin@example.fr', phone: '+33612345678' },
    });
    const dead = (body.deliveries as Array<Record<string, unknown>>).find((d) => d.id === first.id);
    expect(dead).toMatchObject({
      destination: first.destination,
      status: 'dead',
      attempts: 1,
      last_status_code: 400,
      last_error: 'http 400',
      next_attempt_at: null,
      delivered_at: null,
      history: [{ number: 1, status_code: 400, outcome: 'dead', started_at: new Date(T0).toISOString() }],
    });
    const pending = (body.deliveries as Array<Record<string, unknown>>).find((d) => d.id !== first.id);
    expect(pending).toMatchObject({ status: 'pending', next_attempt_at: new Date(T0).toISOString(), history: [] });
  });

  it('answers 404 for an unknown lead or delivery and 400 for a malformed id', async () => {
    const h = await start();
    const unknownLead = await admin(h).get('/v1/leads/0190f0d0-0000-7000-8000-000000000000');
    expect([unknownLead.statusCode, unknownLead.json().error]).toEqual([404, 'not_found']);
    const unknownDelivery = await admin(h).post('/v1/deliveries/nope/replay');
    expect([unknownDelivery.statusCode, unknownDelivery.json().error]).toEqual([404, 'not_found']);
    const malformed = await admin(h).get('/v1/leads/a%20b');
    expect([malformed.statusCode, malformed.json().error]).toEqual([400, 'validation_failed']);
  });

  it('pages through deliveries with a cursor, filtered by status and destination', async () => {
    const h = await start();
    for (let i = 0; i < 5; i += 1) {
      await ingest(h);
      h.clock.now += 1000;
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/deliveries?destination=crm-main&status=pending&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await admin(h).get(url);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const item of body.items as Array<{ id: string; destination: string }>) {
        expect(item.destination).toBe('crm-main');
        seen.push(item.id);
      }
      cursor = body.next_cursor as string | null;
    } while (cursor !== null);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);

    const dead = await admin(h).get('/v1/deliveries?status=dead');
    expect(dead.statusCode).toBe(200);
    expect(dead.json()).toEqual({ items: [], next_cursor: null });
  });

  it('validates the list query', async () => {
    const h = await start();
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'status=lost', 'destination=BAD!', 'unknown=1', 'status=dead&status=pending']) {
      const res = await admin(h).get(`/v1/deliveries?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error, query).toBe('validation_failed');
    }
  });

  it('replays one delivery and enqueues it', async () => {
    const h = await start();
    const id = await ingest(h);
    const [first] = await h.store.listDeliveriesOfLead(id);
    if (!first) throw new Error('no delivery');
    await kill(h, first);
    const before = h.queue.jobs.length;

    const res = await admin(h).post(`/v1/deliveries/${first.id}/replay`);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: first.id, status: 'pending' });
    expect((await h.store.getDelivery(first.id))?.status).toBe('pending');
    await h.queue.waitForJobs(before + 1);
    expect(h.queue.jobs.at(-1)?.deliveryId).toBe(first.id);
  });

  it('replays dead deliveries of a destination in bulk', async () => {
    const h = await start();
    for (let i = 0; i < 3; i += 1) await ingest(h);
    const main = [...h.store.deliveries.values()].filter((d) => d.destination === 'crm-main');
    for (const d of main) await kill(h, d);
    const before = h.queue.jobs.length;

    const res = await admin(h).post('/v1/deliveries/replay', { destination: 'crm-main', status: 'dead' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ replayed: 3 });
    await h.queue.waitForJobs(before + 3);

    const none = await admin(h).post('/v1/deliveries/replay', { destination: 'crm-main', status: 'dead', since: '2026-03-01T11:00:00Z' });
    expect(none.statusCode).toBe(202);
    expect(none.json()).toEqual({ replayed: 0 });
  });

  it('validates the bulk replay body', async () => {
    const h = await start();
    for (const body of [{}, { destination: 'crm-main' }, { destination: 'crm-main', status: 'pending' }, { destination: 'crm-main', status: 'dead', since: 'yesterday' }, { destination: 'crm-main', status: 'dead', extra: 1 }]) {
      const res = await admin(h).post('/v1/deliveries/replay', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('validation_failed');
    }
    const reversed = await admin(h).post('/v1/deliveries/replay', {
      destination: 'crm-main',
      status: 'dead',
      since: '2026-03-02T00:00:00Z',
      until: '2026-03-01T00:00:00Z',
    });
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().details).toEqual([{ path: '/until', message: expect.any(String) }]);
  });

  it('answers 503 when the store is down', async () => {
    const h = await start();
    h.store.down = true;
    const res = await admin(h).get('/v1/deliveries');
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('unavailable');
  });
});
