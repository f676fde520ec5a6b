import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLeadAcceptor, IDEMPOTENCY_TTL_MS, type LeadSubmission } from '../../src/ingest/accept-lead.js';
import type { LeadInput } from '../../src/domain/lead.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { brand, config, destination, route } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

// The ingest use case without Fastify: what it persists, enqueues and answers.
const NOW = Date.parse('2026-11-30T10:00:00Z');
const merciplus = brand({ id: 'merciplus', duplicateWindowMs: 3_600_000 });
const cfg = config({
  brands: [merciplus],
  destinations: [destination({ id: 'crm', url: 'http://127.0.0.1:1/leads' })],
  routes: [route({ services: ['menage'], destinations: ['crm'] })],
});
const body: LeadInput = { contact: { email: ' Camille@Example.FR ', phone: '06 12 34 56 78' }, service: 'menage' };

function setup() {
  const store = new MemoryStore(() => NOW);
  const queue = new FakeQueue();
  const metrics = createMetrics();
  const accept = createLeadAcceptor({ config: cfg, store, queue, metrics, now: () => NOW });
  const submit = (overrides: Partial<LeadSubmission> = {}) =>
    accept({ brand: merciplus, body, idempotency: null, log: pino({ level: 'silent' }), ...overrides });
  return { store, queue, metrics, submit };
}

describe('acceptLead', () => {
  it('persists the normalised lead with one delivery per routed destination, then enqueues them', async () => {
    const { store, queue, submit } = setup();
    const result = await submit();
    expect(result.kind).toBe('created');
    const leadId = (result as { leadId: string }).leadId;
    const lead = store.leads.get(leadId)!;
    expect(lead).toMatchObject({
      brand: 'merciplus',
      status: 'routed',
      received_at: new Date(NOW).toISOString(),
      contact: { email: 'camille@example.fr', phone: '+33612345678' },
    });
    const deliveries = [...store.deliveries.values()];
    expect(deliveries.map((d) => d.destination)).toEqual(['crm']);
    expect(queue.jobs).toEqual([{ deliveryId: deliveries[0]!.id, runAt: NOW }]);
  });

  it('keeps an unrouted lead without deliveries and enqueues nothing', async () => {
    const { store, queue, submit } = setup();
    const result = await submit({ body: { ...body, service: 'jardinage' } });
    expect(result.kind).toBe('created');
    expect(store.leads.get((result as { leadId: string }).leadId)!.status).toBe('unrouted');
    expect(queue.jobs).toEqual([]);
  });

  it('answers invalid with the issues when normalisation refuses the lead', async () => {
    const { store, submit } = setup();
    const result = await submit({ body: { contact: { phone: '12' }, service: 'menage' } });
    expect(result).toEqual({ kind: 'invalid', issues: [expect.objectContaining({ path: '/contact/phone' })] });
    expect(store.ingestCalls).toBe(0);
  });

  it('replays a repeated idempotency key and reports a reused one', async () => {
    const { store, submit } = setup();
    const idempotency = { key: 'k-1', bodyHash: 'h1' };
    const first = await submit({ idempotency });
    expect(await submit({ idempotency })).toEqual({ kind: 'replayed', leadId: (first as { leadId: string }).leadId });
    expect(await submit({ idempotency: { key: 'k-1', bodyHash: 'h2' } })).toEqual({ kind: 'key_reused' });
    expect(store.leads.size).toBe(1);
  });

  it('passes the key with a 24 h expiry to the store', async () => {
    const { store, submit } = setup();
    let seen: unknown;
    const ingest = store.ingest.bind(store);
    store.ingest = async (command) => {
      seen = command.idempotency;
      return ingest(command);
    };
    await submit({ idempotency: { key: 'k-2', bodyHash: 'h' } });
    expect(seen).toEqual({ key: 'k-2', bodyHash: 'h', expiresAt: NOW + IDEMPOTENCY_TTL_MS });
  });

  it('marks a duplicate within the brand window', async () => {
    const { store, metrics, submit } = setup();
    const first = (await submit()) as { leadId: string };
    const second = (await submit()) as { leadId: string };
    expect(store.leads.get(second.leadId)!.duplicate_of).toBe(first.leadId);
    expect((await metrics.leadsDuplicate.get()).values[0]?.value).toBe(1);
  });

  it('answers unavailable when the store is down, and persists nothing', async () => {
    const { store, submit } = setup();
    store.down = true;
    expect(await submit()).toEqual({ kind: 'unavailable' });
  });

  it('still answers created when only the enqueue fails, then refuses while the queue stays down', async () => {
    const { store, queue, submit } = setup();
    queue.down = true;
    expect((await submit()).kind).toBe('created');
    // The first lead is durable (the sweeper announces it); the next is refused before persisting.
    expect(await submit()).toEqual({ kind: 'unavailable' });
    expect(store.leads.size).toBe(1);
    queue.down = false;
    expect((await submit()).kind).toBe('created');
  });

  it('counts accepted leads per brand', async () => {
    const { metrics, submit } = setup();
    await submit();
    expect((await metrics.leadsAccepted.get()).values).toEqual([expect.objectContaining({ labels: { brand: 'merciplus' }, value: 1 })]);
  });
});
