import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DestinationConfig, LeadgateConfig } from '../../src/domain/config.js';
import type { AttemptResult, Delivery } from '../../src/domain/delivery.js';
import type { Lead } from '../../src/domain/lead.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { DestinationClient, OutboundRequest, SendResult } from '../../src/ports/destination-client.js';
import type { Job, JobHandler, JobQueue } from '../../src/ports/job-queue.js';
import type { LeadStore } from '../../src/ports/lead-store.js';
import { createDeliveryHandler } from '../../src/worker/delivery-handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { destination } from '../helpers/config-factories.js';
import { pendingDelivery } from '../helpers/deliveries.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const crm: DestinationConfig = destination({
  id: 'crm-main',
  url: 'http://crm.test/leads',
  timeoutMs: 1_000,
  signingSecrets: [SECRET],
  headers: { Authorization: 'Bearer t0k' },
  retry: { delaysMs: [5_000, 60_000] }, // 3 attempts
});
const config: LeadgateConfig = { brands: [], destinations: [crm], routes: [] };

const lead: Lead = {
  id: 'lead_1',
  brand: 'merciplus',
  received_at: new Date(NOW - 1_000).toISOString(),
  status: 'routed',
  contact: { first_name: 'Camille', email: 'camille.martin@example.fr', phone: '+33612345678' },
  service: 'menage',
  message: 'Devis ménage',
};

/** Only what the handler uses; the full in-memory store lives elsewhere. */
class FakeStore {
  deliveries = new Map<string, Delivery>();
  leads = new Map<string, Lead>([[lead.id, lead]]);
  recorded: AttemptResult[] = [];
  failWith: Error | null = null;

  addDelivery(overrides: Partial<Delivery> = {}): Delivery {
    const d = pendingDelivery(NOW, { leadId: lead.id, destination: 'crm-main', ...overrides });
    this.deliveries.set(d.id, d);
    return d;
  }

  async getDelivery(id: string) {
    if (this.failWith) throw this.failWith;
    return this.deliveries.get(id) ?? null;
  }
  async getLead(id: string) {
    return this.leads.get(id) ?? null;
  }
  async recordAttempt(result: AttemptResult) {
    if (this.failWith) throw this.failWith;
    const d = this.deliveries.get(result.attempt.deliveryId);
    if (!d || d.status !== 'pending') return false;
    this.recorded.push(result);
    this.deliveries.set(d.id, {
      ...d,
      status: result.status,
      attempts: d.attempts + 1,
      cycleAttempts: d.cycleAttempts + 1,
      lastStatusCode: result.attempt.statusCode,
      lastError: result.attempt.error,
      nextAttemptAt: result.nextAttemptAt,
      deliveredAt: result.status === 'delivered' ? NOW : null,
    });
    return true;
  }
}

class FakeClient implements DestinationClient {
  sent: OutboundRequest[] = [];
  results: SendResult[] = [];
  async send(request: OutboundRequest): Promise<SendResult> {
    this.sent.push(request);
    return this.results.shift() ?? { kind: 'response', statusCode: 200, retryAfterMs: null, body: '', durationMs: 12 };
  }
  async close() {}
}

const status = (statusCode: number, retryAfterMs: number | null = null): SendResult => ({
  kind: 'response',
  statusCode,
  retryAfterMs,
  body: '',
  durationMs: 12,
});

let store: FakeStore;
let client: FakeClient;
let metrics: Metrics;
let logLines: Record<string, unknown>[];
let rawLog: string;
let clock: number;
let handler: JobHandler;

beforeEach(() => {
  store = new FakeStore();
  client = new FakeClient();
  metrics = createMetrics();
  logLines = [];
  rawLog = '';
  clock = NOW;
  const logger = pino(loggerOptions('debug'), {
    write(line: string) {
      rawLog += line;
      logLines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  handler = createDeliveryHandler({
    config,
    store: store as unknown as LeadStore,
    client,
    metrics,
    logger,
    now: () => clock,
    random: () => 0.5, // jitter factor 1.0
    userAgent: 'leadgate/test',
  });
});

const job = (deliveryId = 'dlv_1'): Job => ({ deliveryId, runAt: NOW });

async function counter(outcome: string, destination = 'crm-main'): Promise<number> {
  const metric = await metrics.deliveries.get();
  return metric.values.find((v) => v.labels.outcome === outcome && v.labels.destination === destination)?.value ?? 0;
}

function expectNoPersonalData() {
  for (const needle of ['Camille', 'camille', '+33612345678', 'ménage', 'Bearer', 'whsec_']) {
    expect(rawLog).not.toContain(needle);
  }
}

describe('delivery handler', () => {
  it('delivers: sends a signed request, records it, counts it', async () => {
    store.addDelivery();
    await expect(handler(job())).resolves.toBeUndefined();

    expect(client.sent).toHaveLength(1);
    const req = client.sent[0]!;
    expect(req.url).toBe(crm.url);
    expect(req.timeoutMs).toBe(1_000);
    expect(req.headers).toMatchObject({ 'webhook-id': 'dlv_1', authorization: 'Bearer t0k', 'user-agent': 'leadgate/test' });
    // The webhook timestamp is the worker's clock, so verify against a real "now".
    expect(req.headers['webhook-timestamp']).toBe(String(NOW / 1000));
    const fresh = createDeliveryHandler({
      config,
      store: store as unknown as LeadStore,
      client,
      metrics,
      logger: pino({ level: 'silent' }),
    });
    store.addDelivery({ id: 'dlv_2' });
    await fresh(job('dlv_2'));
    const live = client.sent[1]!;
    expect(live.headers['user-agent']).toMatch(/^leadgate\/\d+\.\d+\.\d+/);
    expect(new Webhook(SECRET).verify(live.body, live.headers)).toMatchObject({ type: 'lead.created', data: { id: 'lead_1' } });

    expect(store.recorded[0]).toMatchObject({ status: 'delivered', attempt: { number: 1, outcome: 'delivered', statusCode: 200 } });
    expect(store.deliveries.get('dlv_1')!.status).toBe('delivered');
    expect(await counter('delivered')).toBe(2);
    const duration = await metrics.deliveryDuration.get();
    expect(duration.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(2);
    expect(logLines.find((l) => l.msg === 'delivery delivered')).toMatchObject({ level: 20, deliveryId: 'dlv_1' });
    expectNoPersonalData();
  });

  it('retries a 503: records the attempt and returns the next time', async () => {
    store.addDelivery();
    client.results.push(status(503));
    clock = NOW + 12;
    await expect(handler(job())).resolves.toEqual({ retryAt: NOW + 12 + 5_000 });
    expect(store.deliveries.get('dlv_1')).toMatchObject({ status: 'pending', nextAttemptAt: NOW + 5_012, lastError: 'http 503' });
    expect(await counter('retry')).toBe(1);
    const warn = logLines.find((l) => l.msg === 'delivery attempt failed, will retry');
    expect(warn).toMatchObject({
      level: 40,
      deliveryId: 'dlv_1',
      destination: 'crm-main',
      statusCode: 503,
      errorClass: 'http_status',
      attempt: 1,
    });
    expectNoPersonalData();
  });

  it('retries a timeout with the second delay on the second attempt', async () => {
    store.addDelivery({ attempts: 1, cycleAttempts: 1 });
    client.results.push({ kind: 'failure', errorClass: 'timeout', error: 'timeout after 1000 ms', durationMs: 1_000 });
    await expect(handler(job())).resolves.toEqual({ retryAt: NOW + 60_000 });
    expect(store.recorded[0]!.attempt).toMatchObject({ number: 2, errorClass: 'timeout', error: 'timeout after 1000 ms' });
  });

  it('dead-letters after the last attempt', async () => {
    store.addDelivery({ attempts: 2, cycleAttempts: 2 });
    client.results.push(status(503, 1_000));
    await expect(handler(job())).resolves.toBeUndefined();
    expect(store.deliveries.get('dlv_1')).toMatchObject({ status: 'dead', nextAttemptAt: null, attempts: 3 });
    expect(await counter('dead')).toBe(1);
    expect(logLines.find((l) => l.msg === 'delivery dead')).toMatchObject({ level: 50, statusCode: 503, attempt: 3 });
    expectNoPersonalData();
  });

  it('dead-letters a permanent 400 at once', async () => {
    store.addDelivery();
    client.results.push(status(400));
    await expect(handler(job())).resolves.toBeUndefined();
    expect(store.recorded[0]).toMatchObject({ status: 'dead', attempt: { outcome: 'dead', statusCode: 400, error: 'http 400' } });
    expect(await counter('dead')).toBe(1);
  });

  it.each(['delivered', 'dead'] as const)('does nothing for a %s delivery', async (s) => {
    store.addDelivery({ status: s, nextAttemptAt: null });
    await expect(handler(job())).resolves.toBeUndefined();
    expect(client.sent).toHaveLength(0);
    expect(store.recorded).toHaveLength(0);
  });

  it('does nothing for a missing delivery', async () => {
    await expect(handler(job('nope'))).resolves.toBeUndefined();
    expect(client.sent).toHaveLength(0);
  });

  it('hands back a delivery that is not due yet without sending', async () => {
    store.addDelivery({ nextAttemptAt: NOW + 30_000 });
    await expect(handler(job())).resolves.toEqual({ retryAt: NOW + 30_000 });
    expect(client.sent).toHaveLength(0);
    expect(store.recorded).toHaveLength(0);
  });

  it('dead-letters a delivery whose destination left the config, with request_build', async () => {
    store.addDelivery({ destination: 'crm-removed' });
    await expect(handler(job())).resolves.toBeUndefined();
    expect(client.sent).toHaveLength(0);
    expect(store.recorded[0]).toMatchObject({
      status: 'dead',
      attempt: { errorClass: 'request_build', error: 'unknown destination', outcome: 'dead', number: 1 },
    });
    expect(await counter('dead', 'crm-removed')).toBe(1);
  });

  it('dead-letters a delivery whose lead is missing', async () => {
    store.addDelivery({ leadId: 'lead_gone' });
    await handler(job());
    expect(store.recorded[0]).toMatchObject({ attempt: { errorClass: 'request_build', error: 'lead not found' } });
  });

  it('rejects when the store fails, so the queue runs the job again', async () => {
    store.addDelivery();
    store.failWith = new Error('database is locked');
    await expect(handler(job())).rejects.toThrow('database is locked');
  });

  it('rejects when recording the attempt fails (the send is retried later: at least once)', async () => {
    store.addDelivery();
    const record = store.recordAttempt.bind(store);
    store.recordAttempt = async () => {
      throw new Error('write failed');
    };
    await expect(handler(job())).rejects.toThrow('write failed');
    expect(client.sent).toHaveLength(1);
    store.recordAttempt = record;
  });

  it('is harmless when another worker finished the delivery meanwhile', async () => {
    store.addDelivery();
    client.send = async (request) => {
      client.sent.push(request);
      store.deliveries.set('dlv_1', { ...store.deliveries.get('dlv_1')!, status: 'delivered' });
      return status(200);
    };
    await expect(handler(job())).resolves.toBeUndefined();
    expect(store.recorded).toHaveLength(0);
  });
});

describe('worker', () => {
  it('consumes with the handler and concurrency, and stops the queue once', async () => {
    const calls: string[] = [];
    let consumed: { handler: JobHandler; concurrency: number } | null = null;
    const queue = {
      consume(h: JobHandler, options: { concurrency: number }) {
        calls.push('consume');
        consumed = { handler: h, concurrency: options.concurrency };
      },
      async stop() {
        calls.push('stop');
      },
    } as unknown as JobQueue;
    const worker = createWorker({
      config,
      store: store as unknown as LeadStore,
      client,
      metrics,
      logger: pino({ level: 'silent' }),
      queue,
      concurrency: 7,
    });
    await worker.stop(); // before start: nothing to stop
    worker.start();
    worker.start();
    expect(consumed!.concurrency).toBe(7);
    store.addDelivery();
    await consumed!.handler(job());
    expect(client.sent).toHaveLength(1);
    await Promise.all([worker.stop(), worker.stop()]);
    expect(calls).toEqual(['consume', 'stop']);
  });
});

describe('preloaded jobs (the embedded queue hands over what the ingest just committed)', () => {
  it('uses the delivery and lead the job carries, reading neither from the store, and records as usual', async () => {
    const d = store.addDelivery();
    let reads = 0;
    store.getDelivery = async () => ((reads += 1), null);
    store.getLead = async () => ((reads += 1), null);
    expect(await handler({ ...job(d.id), preloaded: { delivery: d, lead } })).toBeUndefined();
    expect(reads).toBe(0);
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]!.headers['webhook-id']).toBe(d.id);
    expect(JSON.parse(client.sent[0]!.body).data.id).toBe(lead.id);
    expect(store.recorded.map((r) => r.status)).toEqual(['delivered']);
  });
});
