import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpDestinationClient } from '../../src/adapters/http/destination-client.js';
import { BullmqJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import { SqliteJobQueue } from '../../src/adapters/sqlite/job-queue.js';
import { openSqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import type { DestinationConfig, LeadgateConfig } from '../../src/domain/config.js';
import { buildTestOpsApp } from '../helpers/apps.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { JobQueue } from '../../src/ports/job-queue.js';
import { CircuitBreakers } from '../../src/worker/circuit-breakers.js';
import { createDeliveryGate } from '../../src/worker/delivery-gate.js';
import { MemoryDestinationLimits } from '../../src/adapters/memory/destination-limits.js';
import { paceIntervalMs, type DestinationLimits } from '../../src/ports/destination-limits.js';
import { RedisDestinationLimits } from '../../src/adapters/bullmq/destination-limits.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { makeIngest } from '../contract/fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { config as makeConfig, destination } from '../helpers/config-factories.js';
import { startFakeCrm, type CrmResponse, type RecordedRequest } from '../helpers/crm-server.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

/**
 * Protecting CRMs against real loopback CRMs and real workers: rate_limit, max_in_flight (per
 * process and through Redis for two workers), the circuit breaker and pause/resume. The figures
 * each test measures are printed (`[measure]`) for the engineering notes.
 */

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.close();
});

const silent = pino(loggerOptions('silent'));
const measure = (what: string, figures: Record<string, unknown>) => console.log(`[measure] ${what} ${JSON.stringify(figures)}`);

/** A CRM that accepts at most `perSecond` requests per second of its own clock (1 s windows) and answers 429 above. */
async function limitedCrm(perSecond: number, delayMs = 0) {
  const perWindow = new Map<number, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let rejected = 0;
  const crm = await startFakeCrm({
    responder: async (req: RecordedRequest): Promise<CrmResponse> => {
      const window = Math.floor(req.receivedAt / 1000);
      const count = (perWindow.get(window) ?? 0) + 1;
      perWindow.set(window, count);
      if (count > perSecond) {
        rejected += 1;
        return { status: 429 };
      }
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // The CRM's own processing time: its timer, not a test wait.
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight -= 1;
      return { status: 200 };
    },
  });
  cleanups.push(() => crm.close());
  return {
    crm,
    get rejected() {
      return rejected;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get maxPerSecond() {
      return Math.max(0, ...perWindow.values());
    },
    /** Most requests received in any 1 s span (sliding), not only the aligned windows. */
    maxPerSlidingSecond() {
      const times = crm.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
      let max = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= 1000) j++;
        max = Math.max(max, i - j + 1);
      }
      return max;
    },
  };
}

interface Harness {
  store: SqliteLeadStore;
  queues: JobQueue[];
  metrics: Metrics[];
  breakers: CircuitBreakers[];
  /** Ingests n leads for `destinationId` and announces them; resolves with the delivery ids. */
  post(n: number, destinationId?: string): Promise<string[]>;
  statuses(ids: string[]): Promise<Array<{ status: string; attempts: number }>>;
  allDelivered(ids: string[]): Promise<boolean>;
  config: LeadgateConfig;
}

/**
 * `workers` worker "processes" on one SQLite store, each with its own queue consumer, breakers
 * and limits (memory unless `limits` builds shared ones). queue: the embedded SQLite queue, or
 * BullMQ on the test's redis-server.
 */
async function harness(options: {
  destinations: DestinationConfig[];
  workers?: number;
  concurrency?: number;
  queue?: 'sqlite' | 'bullmq';
  limits?: () => DestinationLimits;
}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-protect-'));
  const store = new SqliteLeadStore(openSqliteDatabase(dir));
  await store.migrate();
  const config = makeConfig({ destinations: options.destinations });
  const queueName = `protect-${randomUUID()}`;
  const queues: JobQueue[] = [];
  const metricsList: Metrics[] = [];
  const breakersList: CircuitBreakers[] = [];
  const workers: Worker[] = [];
  const client = new HttpDestinationClient();
  for (let i = 0; i < (options.workers ?? 1); i++) {
    const queue: JobQueue =
      options.queue === 'bullmq'
        ? new BullmqJobQueue({ redisUrl: redis.url, queueName, retryBaseMs: 50 })
        : new SqliteJobQueue(openSqliteDatabase(dir), { pollIntervalMs: 20 });
    const metrics = createMetrics();
    const breakers = new CircuitBreakers({ metrics, logger: silent });
    const limits = options.limits?.() ?? new MemoryDestinationLimits();
    const gate = createDeliveryGate({ store, breakers, limits, metrics });
    const worker = createWorker({ config, store, queue, client, metrics, logger: silent, gate, concurrency: options.concurrency ?? 16 });
    worker.start();
    queues.push(queue);
    metricsList.push(metrics);
    breakersList.push(breakers);
    workers.push(worker);
  }
  cleanups.push(async () => {
    for (const worker of workers) await worker.stop();
    for (const queue of queues) await queue.close();
    await client.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const statuses = async (ids: string[]) =>
    Promise.all(ids.map(async (id) => {
      const d = (await store.getDelivery(id))!;
      return { status: d.status, attempts: d.attempts };
    }));
  return {
    store,
    queues,
    metrics: metricsList,
    breakers: breakersList,
    config,
    async post(n, destinationId = options.destinations[0]!.id) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const command = makeIngest([destinationId], { lead: { received_at: new Date().toISOString() } });
        await store.ingest(command);
        ids.push(command.deliveries[0]!.id);
      }
      await queues[0]!.enqueue(ids.map((deliveryId) => ({ deliveryId, runAt: Date.now() })));
      return ids;
    },
    statuses,
    async allDelivered(ids) {
      return (await statuses(ids)).every((s) => s.status === 'delivered');
    },
  };
}

const heldCount = async (metrics: Metrics[], reason: string) => {
  let total = 0;
  for (const m of metrics) {
    for (const v of (await m.deliveriesHeld.get()).values) if (v.labels.reason === reason) total += v.value;
  }
  return total;
};

/** One Redis client per worker, all on the same key prefix: that is the sharing. */
function sharedRedisLimits(): () => DestinationLimits {
  const prefix = `it-${randomUUID()}`;
  return () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    cleanups.push(() => client.quit());
    return new RedisDestinationLimits({ client, prefix });
  };
}

describe('rate_limit', () => {
  it('memory: a CRM accepting 5 req/s sees at most 5 per second and no failure', async () => {
    const limited = await limitedCrm(5);
    const h = await harness({ destinations: [destination({ id: 'crm', url: limited.crm.url, rateLimitPerSecond: 5 })] });
    const started = Date.now();
    const ids = await h.post(20);
    await limited.crm.waitForRequests(20, { timeoutMs: 20_000 });
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    const elapsedMs = Date.now() - started;
    expect(limited.rejected).toBe(0);
    expect(limited.maxPerSecond).toBeLessThanOrEqual(5);
    // Paced, not bursty: 20 requests at 5/s span at least 19 intervals. Receipt times, not a
    // sliding-window count, because a stalled event loop (this process also runs the CRM and
    // fsyncs SQLite) can bunch two receipts; a stall only lengthens the span, bar the first
    // request's own delay (the 500 ms margin). Without pacing the 20 arrive within ~50 ms.
    const received = limited.crm.requests.map((r) => r.receivedAt);
    expect(Math.max(...received) - Math.min(...received)).toBeGreaterThanOrEqual(19 * paceIntervalMs(5) - 500);
    expect((await h.statuses(ids)).every((s) => s.attempts === 1)).toBe(true);
    measure('rate_limit memory 5/s, 20 leads', {
      crmRequests: limited.crm.requests.length,
      rejected429: limited.rejected,
      maxPerAlignedSecond: limited.maxPerSecond,
      maxPerSlidingSecond: limited.maxPerSlidingSecond(),
      elapsedMs,
      held: await heldCount(h.metrics, 'rate_limit'),
    });
  });

  it('without rate_limit the same CRM rejects (the baseline the limiter removes)', async () => {
    const limited = await limitedCrm(5);
    const h = await harness({
      // No breaker either: 429s count as failures, and five in a row would hold the rest.
      destinations: [
        destination({
          id: 'crm',
          url: limited.crm.url,
          retry: { delaysMs: [60_000] },
          circuitBreaker: { consecutiveFailures: 1_000, halfOpenAfterMs: 30_000 },
        }),
      ],
    });
    await h.post(20);
    await limited.crm.waitForRequests(20, { timeoutMs: 20_000 });
    expect(limited.rejected).toBeGreaterThan(0);
    measure('no rate_limit, CRM 5/s, 20 leads', { rejected429: limited.rejected, maxPerAlignedSecond: limited.maxPerSecond });
  });

  it('redis: two workers on BullMQ share 5 req/s: no failure, never more than 5 per second', async () => {
    const limited = await limitedCrm(5, 50);
    const h = await harness({
      destinations: [destination({ id: 'crm', url: limited.crm.url, rateLimitPerSecond: 5 })],
      workers: 2,
      queue: 'bullmq',
      limits: sharedRedisLimits(),
    });
    const started = Date.now();
    const ids = await h.post(20);
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    const elapsedMs = Date.now() - started;
    expect(limited.rejected).toBe(0);
    expect(limited.maxPerSecond).toBeLessThanOrEqual(5);
    const received = limited.crm.requests.map((r) => r.receivedAt); // paced across workers: see the memory test
    expect(Math.max(...received) - Math.min(...received)).toBeGreaterThanOrEqual((limited.crm.requests.length - 1) * paceIntervalMs(5) - 500);
    // Both workers took part: the limit was shared, not each keeping 5/s to itself.
    const perWorker = await Promise.all(h.metrics.map(async (m) => (await m.deliveries.get()).values.reduce((n, v) => n + v.value, 0)));
    expect(perWorker.every((n) => n > 0)).toBe(true);
    measure('rate_limit redis 5/s, 2 workers (BullMQ), 20 leads', {
      crmRequests: limited.crm.requests.length,
      rejected429: limited.rejected,
      maxPerAlignedSecond: limited.maxPerSecond,
      maxPerSlidingSecond: limited.maxPerSlidingSecond(),
      deliveriesPerWorker: perWorker,
      elapsedMs,
      held: await heldCount(h.metrics, 'rate_limit'),
    });
  });
});

describe('max_in_flight', () => {
  it('redis: two workers on BullMQ share max_in_flight 2', async () => {
    const limited = await limitedCrm(1_000, 100);
    const h = await harness({
      destinations: [destination({ id: 'crm', url: limited.crm.url, maxInFlight: 2 })],
      workers: 2,
      queue: 'bullmq',
      limits: sharedRedisLimits(),
    });
    const ids = await h.post(24);
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    expect(limited.maxInFlight).toBe(2);
    expect(limited.rejected).toBe(0);
    measure('max_in_flight redis 2, 2 workers, 24 leads, CRM 100 ms', {
      maxInFlight: limited.maxInFlight,
      held: await heldCount(h.metrics, 'max_in_flight'),
    });
  });

  it('memory: a CRM counting concurrent requests never sees more than max_in_flight', async () => {
    const limited = await limitedCrm(1_000, 100);
    const h = await harness({ destinations: [destination({ id: 'crm', url: limited.crm.url, maxInFlight: 3 })], concurrency: 16 });
    const ids = await h.post(24);
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    expect(limited.maxInFlight).toBe(3);
    measure('max_in_flight memory 3, 24 leads, CRM 100 ms', { maxInFlight: limited.maxInFlight, held: await heldCount(h.metrics, 'max_in_flight') });
  });
});

describe('circuit breaker', () => {
  const retry = { delaysMs: new Array(6).fill(100) as number[] }; // 7 attempts, 100 ms apart

  it('a CRM down for a while trips it; held deliveries spend no attempt; every lead is delivered after', async () => {
    const crm = await startFakeCrm({ responder: { status: 503 } });
    cleanups.push(() => crm.close());
    const h = await harness({
      destinations: [destination({ id: 'crm', url: crm.url, retry, circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 300 } })],
      concurrency: 1,
    });
    const ids = await h.post(20);
    // Down until the breaker has opened and two half-open probes have failed.
    await waitFor(() => h.breakers[0]!.state('crm') === 'open', { what: 'the breaker to open', timeoutMs: 10_000 });
    await crm.waitForRequests(5, { timeoutMs: 10_000 });
    const downRequests = crm.requests.length;
    const heldWhileDown = await heldCount(h.metrics, 'circuit_open');
    crm.respondWith({ status: 200 });
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    const statuses = await h.statuses(ids);
    // Only the 3 that tripped it and the failed probes spent attempts while it was down.
    const failedAttempts = statuses.reduce((sum, s) => sum + s.attempts - 1, 0);
    expect(failedAttempts).toBe(downRequests);
    expect(statuses.filter((s) => s.attempts === 1).length).toBeGreaterThanOrEqual(15);
    expect(h.breakers[0]!.state('crm')).toBe('closed');
    measure('breaker on, CRM down (3 failures + 2 probes), 20 leads', {
      requestsWhileDown: downRequests,
      heldWhileDown,
      dead: statuses.filter((s) => s.status === 'dead').length,
      maxAttempts: Math.max(...statuses.map((s) => s.attempts)),
    });
  });

  it('baseline without a breaker: the same outage burns every attempt and dead-letters the leads', async () => {
    const crm = await startFakeCrm({ responder: { status: 503 } });
    cleanups.push(() => crm.close());
    const h = await harness({
      destinations: [destination({ id: 'crm', url: crm.url, retry, circuitBreaker: { consecutiveFailures: 1_000, halfOpenAfterMs: 300 } })],
      concurrency: 1,
    });
    const ids = await h.post(20);
    await waitFor(async () => (await h.statuses(ids)).every((s) => s.status === 'dead'), { what: 'every delivery dead' });
    measure('breaker off, CRM down, 20 leads', { requestsWhileDown: crm.requests.length, dead: 20 });
    expect(crm.requests.length).toBe(140);
  });
});

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';

describe('half-failing CRMs: adaptive concurrency, Retry-After, the rate breaker', () => {
  it('memory: a CRM answering 503 to half the requests at random gets every lead, and the default breaker stays closed', async () => {
    const crm = await startFakeCrm({ responder: () => (Math.random() < 0.5 ? { status: 503 } : { status: 200 }) });
    cleanups.push(() => crm.close());
    const limits = new MemoryDestinationLimits();
    let minLimit = Infinity;
    const observed: DestinationLimits = {
      acquire: (d) => limits.acquire(d),
      close: () => limits.close(),
      adaptiveLimit: (id) => limits.adaptiveLimit(id),
    };
    const retry = { delaysMs: new Array(20).fill(50) as number[] }; // 21 attempts: (1/2)^21 per lead
    const h = await harness({ destinations: [destination({ id: 'crm', url: crm.url, retry })], concurrency: 32, limits: () => observed });
    const ids = await h.post(200);
    const watch = setInterval(() => void limits.adaptiveLimit('crm').then((l) => (minLimit = Math.min(minLimit, l ?? Infinity))), 5);
    cleanups.push(() => clearInterval(watch));
    await waitFor(() => h.allDelivered(ids), { timeoutMs: 60_000, what: 'every lead delivered' });
    expect(h.breakers[0]!.state('crm')).toBe('closed');
    expect(await heldCount(h.metrics, 'circuit_open')).toBe(0);
    expect(minLimit).toBeLessThan(64); // the 503s cut the concurrency (64: the default ceiling)
    const failures = crm.requests.length - ids.length;
    expect(failures).toBeGreaterThan(50);
    measure('503 on half the requests, 200 leads', { requests: crm.requests.length, minAdaptiveLimit: minLimit });
  });

  it('memory: a 429 with Retry-After: 2 pauses the destination: no request before the 2 s, no lead lost', async () => {
    const answered429: number[] = [];
    const crm = await startFakeCrm({
      responder: (_req, index) => {
        if (index >= 2) return { status: 200 };
        answered429.push(Date.now());
        return { status: 429, headers: { 'retry-after': '2' } };
      },
    });
    cleanups.push(() => crm.close());
    // One at a time, so every request after a 429 was started after the worker read it: without
    // the pause the next lead would go at once (only the rejected lead's own retry waits).
    const h = await harness({ destinations: [destination({ id: 'crm', url: crm.url })], concurrency: 1 });
    const ids = await h.post(10);
    await waitFor(() => h.allDelivered(ids), { timeoutMs: 30_000, what: 'every lead delivered' });
    const times = crm.requests.map((r) => r.receivedAt);
    // 20 ms for timer rounding: the pause starts when the worker reads the 429, after the CRM sent it.
    expect(times[1]! - answered429[0]!).toBeGreaterThanOrEqual(2_000 - 20);
    expect(times[2]! - answered429[1]!).toBeGreaterThanOrEqual(2_000 - 20);
    expect((await h.statuses(ids)).every((s) => s.status === 'delivered')).toBe(true);
    expect(crm.requests).toHaveLength(12);
    expect(await heldCount(h.metrics, 'retry_after')).toBeGreaterThan(0);
    measure('429 Retry-After 2 (twice), 10 leads', { gapsAfter429Ms: [times[1]! - answered429[0]!, times[2]! - answered429[1]!] });
  });

  it('redis: the AIMD limit and a Retry-After pause are shared by every worker', async () => {
    const make = sharedRedisLimits();
    const [a, b] = [make(), make()];
    const dest = destination({ id: 'crm', url: 'http://crm.test', maxInFlight: 40 });
    const permits = [];
    for (let i = 0; i < 10; i++) permits.push(await a.acquire(dest));
    const permit = permits[0]!;
    if (permit.kind !== 'granted') throw new Error('expected a slot');
    await permit.release({ kind: 'overload', retryAfterMs: null });
    expect(await b.adaptiveLimit('crm')).toBe(5); // 10 in flight (Redis counts max_in_flight's slots): halved from 10
    for (const p of permits) if (p.kind === 'granted') await p.release();
    const second = await b.acquire(dest);
    if (second.kind !== 'granted') throw new Error('expected a slot');
    await second.release({ kind: 'success' });
    expect(await a.adaptiveLimit('crm')).toBeCloseTo(5.2, 5);
    const third = await a.acquire(dest);
    if (third.kind !== 'granted') throw new Error('expected a slot');
    await third.release({ kind: 'overload', retryAfterMs: 30_000 });
    expect(await b.acquire(dest)).toMatchObject({ kind: 'held', reason: 'retry_after' });
  });
});

describe('pause / resume through the admin API', () => {
  it('holds a paused destination without attempts, lists it, and releases it on resume', async () => {
    const crm = await startFakeCrm();
    const other = await startFakeCrm();
    cleanups.push(() => crm.close(), () => other.close());
    const h = await harness({
      destinations: [destination({ id: 'crm', url: crm.url }), destination({ id: 'other', url: other.url })],
    });
    const app = await buildTestOpsApp({
      config: h.config,
      store: h.store,
      queue: h.queues[0]!,
      metrics: h.metrics[0]!,
      logger: silent,
      adminToken: ADMIN_TOKEN,
      breakerState: (id) => h.breakers[0]!.state(id),
    });
    cleanups.push(() => app.close());
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

    expect((await app.inject({ method: 'POST', url: '/v1/destinations/crm/pause' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/destinations/nope/pause', headers: admin })).statusCode).toBe(404);
    const paused = await app.inject({ method: 'POST', url: '/v1/destinations/crm/pause', headers: admin });
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toEqual({ destination: 'crm', paused: true });

    const ids = await h.post(5, 'crm');
    const others = await h.post(2, 'other');
    await other.waitForRequests(2);
    await waitFor(() => h.allDelivered(others), { what: 'the other deliveries delivered' });
    // Every paused delivery has been looked at and held at least once, and none was sent.
    await waitFor(async () => (await heldCount(h.metrics, 'paused')) >= 5, { what: '5 deliveries held as paused' });
    expect(crm.requests).toHaveLength(0);
    expect((await h.statuses(ids)).every((s) => s.status === 'pending' && s.attempts === 0)).toBe(true);

    const list = await app.inject({ method: 'GET', url: '/v1/destinations', headers: admin });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual([
      { id: 'crm', paused: true, circuit_breaker: 'closed', pending: 5, dead: 0, max_in_flight: null, rate_limit: null },
      { id: 'other', paused: false, circuit_breaker: 'closed', pending: 0, dead: 0, max_in_flight: null, rate_limit: null },
    ]);

    const resumedAt = Date.now();
    const resumed = await app.inject({ method: 'POST', url: '/v1/destinations/crm/resume', headers: admin });
    expect(resumed.json()).toEqual({ destination: 'crm', paused: false });
    await crm.waitForRequests(5, { timeoutMs: 10_000 });
    await waitFor(() => h.allDelivered(ids), { what: 'every delivery delivered' });
    expect(await h.allDelivered(others)).toBe(true);
    expect((await h.statuses(ids)).every((s) => s.attempts === 1)).toBe(true);
    measure('pause/resume', { resumeToAllDeliveredMs: Date.now() - resumedAt, held: await heldCount(h.metrics, 'paused') });
  });
});
