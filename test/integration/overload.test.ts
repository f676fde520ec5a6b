import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { buildTestPublicApp } from '../helpers/apps.js';
import { resolveOverloadOptions, type OverloadOptions } from '../../src/http/overload.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

/**
 * Pressure is forced deterministically: process.memoryUsage() (what under-pressure samples) is
 * stubbed to report figures above the limits, and the test waits for the sample that turns
 * pressure on (or off) — each sample calls memoryUsage(), which is the event waited on.
 */

const config: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key'], allowedOrigins: ['https://www.merci-plus.example'] })],
  destinations: [destination({ id: 'crm-main', url: 'http://127.0.0.1:9/leads' })],
  routes: [route({ destinations: ['crm-main'] })],
};
const lead = { contact: { email: 'camille.martin@example.fr' }, service: 'menage' };

const GIB = 1024 ** 3;
const realMemoryUsage = process.memoryUsage.bind(process);

interface Harness {
  app: FastifyInstance;
  metrics: Metrics;
  /** Makes the sampler see these figures, and resolves once a sample left the app (not) under pressure. */
  report(figures: Partial<NodeJS.MemoryUsage>, underPressure: boolean): Promise<void>;
}

let current: FastifyInstance | null = null;

afterEach(async () => {
  vi.restoreAllMocks();
  await current?.close();
  current = null;
});

async function start(overload: OverloadOptions): Promise<Harness> {
  let figures: Partial<NodeJS.MemoryUsage> = {};
  const waiters: Array<{ want: boolean; resolve: () => void }> = [];
  const metrics = createMetrics();
  const app = await buildTestPublicApp({
    config,
    store: new MemoryStore(),
    queue: new FakeQueue(),
    metrics,
    // The loop-delay check is off here: a busy CI machine must not flip these tests.
    overload: { maxEventLoopDelayMs: 0, sampleIntervalMs: 10, retryAfterSeconds: 7, ...overload },
  });
  current = app;
  // under-pressure updates its state right after reading the figures, in the same tick.
  const check = () => {
    for (const waiter of [...waiters]) {
      if (app.isUnderPressure() === waiter.want) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  vi.spyOn(process, 'memoryUsage').mockImplementation(() => {
    queueMicrotask(check);
    return { ...realMemoryUsage(), ...figures };
  });
  await app.ready();
  return {
    app,
    metrics,
    report: (next, want) => {
      figures = next;
      return new Promise<void>((resolve) => waiters.push({ want, resolve }));
    },
  };
}

const post = (app: FastifyInstance, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/leads', headers: { authorization: 'Bearer mp-key', ...headers }, payload: lead });
const get = (app: FastifyInstance, url: string) => app.inject({ method: 'GET', url });

describe('overload (@fastify/under-pressure)', () => {
  it.each([
    ['heap', { maxHeapUsedBytes: 2 * GIB }, { heapUsed: 3 * GIB }, 'heap_used'],
    ['rss', { maxRssBytes: 2 * GIB, maxHeapUsedBytes: 0 }, { rss: 3 * GIB }, 'rss'],
  ] as const)('%s over the limit: 503 + Retry-After, ready 503, live 200; then 202 again', async (_name, limits, figures, check) => {
    const h = await start(limits);
    await h.report({}, false);
    expect((await post(h.app)).statusCode).toBe(202);

    await h.report(figures, true);
    const shed = await post(h.app, { origin: 'https://www.merci-plus.example' });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('7');
    expect(shed.headers['content-type']).toMatch(/^application\/json/);
    expect(shed.json()).toEqual({ error: 'unavailable', message: expect.any(String) });
    // Shed after CORS: the browser can read the 503.
    expect(shed.headers['access-control-allow-origin']).toBe('https://www.merci-plus.example');
    expect(shed.headers['x-request-id']).toEqual(expect.any(String));

    const ready = await get(h.app, '/health/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('7');
    expect(ready.json()).toEqual({ status: 'overloaded', checks: { [check]: 'failing' } });
    const live = await get(h.app, '/health/live');
    expect([live.statusCode, live.json()]).toEqual([200, { status: 'ok' }]);
    // Anything else is shed too, with the contract body (before it would be a 404).
    const other = await get(h.app, '/openapi.json');
    expect(other.statusCode).toBe(503);
    expect(other.json().error).toBe('unavailable');

    const rejected = await h.metrics.leadsRejected.get();
    expect(rejected.values).toContainEqual(expect.objectContaining({ labels: { brand: 'unknown', reason: 'unavailable' }, value: 1 }));

    await h.report({}, false);
    expect((await post(h.app)).statusCode).toBe(202);
    const back = await get(h.app, '/health/ready');
    expect(back.statusCode).toBe(200);
    expect(back.json().status).toBe('ok');
  });

  it('answers at once under pressure, whatever the body (never waits for a timeout)', async () => {
    const h = await start({ maxHeapUsedBytes: 2 * GIB });
    await h.report({ heapUsed: 3 * GIB }, true);
    // A body that would otherwise be parsed and validated is not even read.
    const res = await h.app.inject({ method: 'POST', url: '/v1/leads', headers: { 'content-type': 'application/json' }, payload: '{"not": "json"' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('unavailable');
  });
});

describe('overload defaults', () => {
  it('sheds at 1 s of loop delay or 90 % of the heap limit; RSS off; Retry-After 10 s', () => {
    expect(resolveOverloadOptions()).toEqual({
      maxEventLoopDelayMs: 1000,
      maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
      maxRssBytes: 0,
      retryAfterSeconds: 10,
      sampleIntervalMs: 1000,
    });
    expect(resolveOverloadOptions({ maxEventLoopDelayMs: 0, maxRssBytes: GIB })).toMatchObject({
      maxEventLoopDelayMs: 0,
      maxRssBytes: GIB,
    });
  });
});

describe('server timeouts for a load balancer', () => {
  it('keeps idle sockets past the balancer, bounds headers and requests, never cuts a slow answer', async () => {
    const h = await start({});
    const server = h.app.server;
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.headersTimeout).toBeLessThanOrEqual(server.requestTimeout);
    expect(server.timeout).toBe(0);
  });
});
