import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DestinationConfig } from '../../src/domain/config.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { DestinationClient, OutboundRequest, SendResult } from '../../src/ports/destination-client.js';
import type { JobHandler } from '../../src/ports/job-queue.js';
import { CircuitBreakers } from '../../src/worker/circuit-breakers.js';
import { createDeliveryGate } from '../../src/worker/delivery-gate.js';
import { createDeliveryHandler } from '../../src/worker/delivery-handler.js';
import { MemoryDestinationLimits } from '../../src/adapters/memory/destination-limits.js';
import { makeIngest } from '../contract/fixtures.js';
import { config as makeConfig, destination } from '../helpers/config-factories.js';
import { MemoryStore } from '../helpers/memory-store.js';

/**
 * The gate in front of every attempt: circuit breaker transitions and the promise that a held
 * delivery (breaker open, paused) spends no attempt. cockatiel reads Date.now, so the tests fake
 * Date (only Date: timers and promises run for real) and move it with setSystemTime.
 */

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const crm: DestinationConfig = destination({
  id: 'crm-main',
  url: 'http://crm.test/leads',
  retry: { delaysMs: [1_000, 1_000, 1_000, 1_000] },
  circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 10_000 },
});

const status = (statusCode: number): SendResult => ({ kind: 'response', statusCode, retryAfterMs: null, body: '', durationMs: 5 });

class ScriptedClient implements DestinationClient {
  sent: OutboundRequest[] = [];
  answer: SendResult = status(200);
  async send(request: OutboundRequest): Promise<SendResult> {
    this.sent.push(request);
    return this.answer;
  }
  async close() {}
}

let metrics: Metrics;
let logs: Array<Record<string, unknown>>;
let rawLog: string;
let breakers: CircuitBreakers;
let store: MemoryStore;
let client: ScriptedClient;
let handler: JobHandler;

const at = (ms: number) => vi.setSystemTime(T0 + ms);
const gauge = async () => (await metrics.circuitBreakerState.get()).values.find((v) => v.labels.destination === 'crm-main')?.value;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  at(0);
  metrics = createMetrics();
  logs = [];
  rawLog = '';
  const logger = pino(loggerOptions('debug'), {
    write(line: string) {
      rawLog += line;
      logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  breakers = new CircuitBreakers({ metrics, logger, random: () => 0 });
  store = new MemoryStore();
  client = new ScriptedClient();
  const gate = createDeliveryGate({ store, breakers, limits: new MemoryDestinationLimits(), metrics, random: () => 0.5 });
  handler = createDeliveryHandler({
    config: makeConfig({ destinations: [crm] }),
    store,
    client,
    metrics,
    logger,
    gate,
    random: () => 0.5,
    userAgent: 'leadgate/test',
  });
});
afterEach(() => {
  vi.useRealTimers();
});

/** n pending deliveries to crm-main, due now. */
async function deliveries(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const command = makeIngest(['crm-main']);
    await store.ingest(command);
    ids.push(command.deliveries[0]!.id);
  }
  return ids;
}
const run = (deliveryId: string) => handler({ deliveryId, runAt: Date.now() });
const attempts = async (id: string) => (await store.getDelivery(id))!.attempts;

describe('circuit breaker (cockatiel, per destination)', () => {
  it('closed → open after N retryable failures → half-open probe → open again → closed on success', async () => {
    const send = (answer: SendResult) => breakers.execute(crm, async () => answer);
    expect(breakers.state('crm-main')).toBe('closed');
    await send(status(503));
    await send({ kind: 'failure', errorClass: 'timeout', error: 'timeout', durationMs: 5 });
    expect(breakers.state('crm-main')).toBe('closed');
    await send(status(429));
    expect(breakers.state('crm-main')).toBe('open');
    expect(await gauge()).toBe(2);
    expect(breakers.heldUntil(crm)).toBe(T0 + 10_000);

    at(9_999);
    expect(await send(status(200))).toEqual({ kind: 'rejected', retryAt: T0 + 10_000 });
    at(10_000);
    expect(breakers.heldUntil(crm)).toBeNull();
    await send(status(502)); // the probe fails: open again, for another halfOpenAfter
    expect(breakers.state('crm-main')).toBe('open');
    expect(breakers.heldUntil(crm)).toBe(T0 + 20_000);

    at(20_000);
    const probe = await send(status(200));
    expect(probe).toMatchObject({ kind: 'sent', result: { statusCode: 200 } });
    expect(breakers.state('crm-main')).toBe('closed');
    expect(await gauge()).toBe(0);

    const changes = logs.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('circuit breaker'));
    expect(changes.map((l) => l.state)).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
    for (const line of changes) {
      expect(line.level).toBe(40); // warn
      expect(Object.keys(line).filter((k) => !['level', 'time', 'pid', 'hostname', 'msg', 'service'].includes(k)).sort()).toEqual(['destination', 'state']);
    }
  });

  it('a success or a non-retryable answer resets the count of consecutive failures', async () => {
    const send = (answer: SendResult) => breakers.execute(crm, async () => answer);
    for (const answer of [503, 503, 200, 503, 503, 400, 503, 503]) await send(status(answer));
    expect(breakers.state('crm-main')).toBe('closed');
  });

  it('while a probe runs, other deliveries are held rather than queued behind it', async () => {
    for (let i = 0; i < 3; i++) await breakers.execute(crm, async () => status(503));
    at(10_000);
    let finishProbe!: (r: SendResult) => void;
    const probe = breakers.execute(crm, () => new Promise<SendResult>((resolve) => (finishProbe = resolve)));
    expect(breakers.state('crm-main')).toBe('half_open');
    expect(breakers.heldUntil(crm)).toBeGreaterThan(T0 + 10_000);
    const other = await breakers.execute(crm, async () => status(200));
    expect(other.kind).toBe('rejected');
    finishProbe(status(200));
    await probe;
    expect(breakers.state('crm-main')).toBe('closed');
  });
});

describe('held deliveries spend no attempt', () => {
  it('breaker open: deliveries are handed back with retryAt, nothing sent, no attempt; all go after recovery', async () => {
    const ids = await deliveries(6);
    client.answer = status(503);
    for (const id of ids.slice(0, 3)) expect(await run(id)).toEqual({ retryAt: expect.any(Number) });
    expect(client.sent).toHaveLength(3);
    expect(breakers.state('crm-main')).toBe('open');

    // The other three are held: no request, no attempt, retry at the end of the open period.
    for (const id of ids.slice(3)) {
      expect(await run(id)).toEqual({ retryAt: T0 + 10_000 }); // + up to 20 % spread (random 0 here)
      expect(await attempts(id)).toBe(0);
    }
    expect(client.sent).toHaveLength(3);
    const held = (await metrics.deliveriesHeld.get()).values.find((v) => v.labels.reason === 'circuit_open');
    expect(held?.value).toBe(3);

    // The CRM recovers; after halfOpenAfter one probe closes the breaker and everything flows.
    client.answer = status(200);
    at(11_000);
    for (const id of ids) await run(id);
    for (const id of ids.slice(3)) {
      expect(await store.getDelivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    }
    for (const id of ids.slice(0, 3)) {
      expect(await store.getDelivery(id)).toMatchObject({ status: 'delivered', attempts: 2 });
    }
    expect(rawLog).not.toContain('camille');
  });

  it('paused: held without a request or an attempt; resumed: delivered (within the 1 s cache)', async () => {
    const ids = await deliveries(3);
    await store.setDestinationPaused('crm-main', true);
    for (const id of ids) {
      const result = await run(id);
      expect(result).toEqual({ retryAt: T0 + 2_000 }); // 2 s ± 20 %, random 0.5
      expect(await attempts(id)).toBe(0);
    }
    expect(client.sent).toHaveLength(0);

    await store.setDestinationPaused('crm-main', false);
    at(999); // still the cached paused set
    expect(await run(ids[0]!)).toEqual({ retryAt: expect.any(Number) });
    at(1_000);
    for (const id of ids) expect(await run(id)).toBeUndefined();
    expect(client.sent).toHaveLength(3);
    for (const id of ids) expect(await store.getDelivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('a paused set the store cannot read rejects the job (the queue retries it), sending nothing', async () => {
    const [id] = await deliveries(1);
    store.failNext = 0;
    const original = store.pausedDestinations.bind(store);
    store.pausedDestinations = async () => {
      throw new Error('store down');
    };
    await expect(run(id!)).rejects.toThrow('store down');
    expect(client.sent).toHaveLength(0);
    store.pausedDestinations = original;
  });
});

describe('circuit breaker defaults: failure rate over a window', () => {
  const sampled = destination({ id: 'crm-main', url: 'http://crm.test/leads', retry: { delaysMs: [1_000, 300_000] } });

  it('half the requests failing never opens it; more than 90 % of at least 20 in 30 s does', async () => {
    const send = (code: number) => breakers.execute(sampled, async () => status(code));
    for (let i = 0; i < 200; i++) {
      at(i * 100);
      await send(i % 2 === 0 ? 503 : 200);
    }
    expect(breakers.state('crm-main')).toBe('closed');
    // Down: the window still holds the successes above, so it takes a while, but fewer than 3 × 20.
    let failures = 0;
    while (breakers.state('crm-main') === 'closed' && failures < 1_000) {
      at(20_000 + failures * 100);
      await send(503);
      failures += 1;
    }
    expect(breakers.state('crm-main')).toBe('open');
    expect(failures).toBeLessThan(300);
    // Fresh breaker, CRM down from the start: opens at the 20th request, not before.
    const fresh = new CircuitBreakers({ metrics, logger: pino({ level: 'silent' }), random: () => 0 });
    for (let i = 1; i <= 20; i++) {
      at(100_000 + i * 10);
      expect(fresh.state('crm-main')).toBe('closed');
      await fresh.execute(sampled, async () => status(503));
    }
    expect(fresh.state('crm-main')).toBe('open');
    expect(fresh.heldUntil(sampled)).toBe(T0 + 100_200 + 5_000); // half_open_after 5 s by default
  });

  it('a failed probe is recorded but keeps the lead in its schedule and brings it back with the next probe', async () => {
    const h = createDeliveryHandler({
      config: makeConfig({ destinations: [sampled] }),
      store,
      client,
      metrics,
      logger: pino({ level: 'silent' }),
      gate: createDeliveryGate({ store, breakers, limits: new MemoryDestinationLimits(), metrics, random: () => 0.5 }),
      random: () => 0.5,
      userAgent: 'leadgate/test',
    });
    const ids = await deliveries(21);
    client.answer = status(503);
    for (const id of ids.slice(0, 20)) await h({ deliveryId: id, runAt: Date.now() });
    expect(breakers.state('crm-main')).toBe('open');
    at(5_000);
    const probe = ids[20]!;
    expect(await h({ deliveryId: probe, runAt: Date.now() })).toEqual({ retryAt: T0 + 10_000 });
    expect(client.sent).toHaveLength(21);
    // Recorded, but still at the start of its schedule: its first delay comes after the next probe, not 5 min later.
    expect(await store.getDelivery(probe)).toMatchObject({ status: 'pending', attempts: 1, cycleAttempts: 0, nextAttemptAt: T0 + 10_000 });
    // A normal failure moved along the schedule.
    expect(await store.getDelivery(ids[0]!)).toMatchObject({ attempts: 1, cycleAttempts: 1 });
    client.answer = status(200);
    at(10_000);
    expect(await h({ deliveryId: probe, runAt: Date.now() })).toBeUndefined();
    expect(breakers.state('crm-main')).toBe('closed');
    expect(await store.getDelivery(probe)).toMatchObject({ status: 'delivered', attempts: 2 });
  });
});
