import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { testHasher } from '../helpers/privacy.js';
import { createLeadAcceptor, IDEMPOTENCY_TTL_MS, type LeadSubmission } from '../../src/ingest/accept-lead.js';
import type { LeadInput } from '../../src/domain/lead.js';
import type { CaptchaVerdict, CaptchaVerifier } from '../../src/ports/captcha-verifier.js';
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

const client = { keyKind: 'secret' as const, ip: '203.0.113.77', userAgent: 'brand-site/1.0' };
/** Records the tokens it is asked about and answers what the test set. */
function fakeCaptcha(verdict: CaptchaVerdict = 'passed') {
  const asked: string[] = [];
  const verifier: CaptchaVerifier & { verdict: CaptchaVerdict; asked: string[] } = {
    verdict,
    asked,
    verify: async (_config, token) => {
      asked.push(token);
      return verifier.verdict;
    },
    close: async () => {},
  };
  return verifier;
}

function setup(captcha = fakeCaptcha()) {
  const store = new MemoryStore(() => NOW);
  const queue = new FakeQueue();
  const metrics = createMetrics();
  const accept = createLeadAcceptor({ config: cfg, store, queue, metrics, captcha, hasher: testHasher, now: () => NOW });
  const submit = (overrides: Partial<LeadSubmission> = {}) =>
    accept({ brand: merciplus, body, idempotency: null, client, log: pino({ level: 'silent' }), ...overrides });
  return { store, queue, metrics, submit, captcha };
}

describe('acceptLead', () => {
  it('persists the normalised lead with one delivery per routed destination, then enqueues them', async () => {
    const { store, queue, submit } = setup();
    const result = await submit();
    expect(result).toEqual({ kind: 'created', leadId: expect.any(String), spam: false });
    const leadId = (result as { leadId: string }).leadId;
    const lead = store.leads.get(leadId)!;
    expect(lead).toMatchObject({
      brand: 'merciplus',
      status: 'routed',
      received_at: new Date(NOW).toISOString(),
      contact: { email: 'camille@example.fr', phone: '+33612345678' },
      // The consent proof: how it arrived, the IP truncated.
      proof: { key_kind: 'secret', ip: '203.0.113.0/24', user_agent: 'brand-site/1.0' },
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

describe('acceptLead: bot traps and captcha', () => {
  const guarded = brand({
    id: 'guarded',
    bot: {
      honeypot: 'website',
      minFillMs: 3_000,
      captcha: { provider: 'turnstile', secret: 's', verifyUrl: 'http://127.0.0.1:1/', minScore: null, timeoutMs: 100, onUnavailable: 'accept' },
    },
  });
  const shownAgo = (ms: number) => new Date(NOW - ms).toISOString();

  it('keeps a filled honeypot as spam: created, never routed, counted, bot fields not stored', async () => {
    const { store, queue, metrics, submit } = setup();
    const result = await submit({ body: { ...body, bot: { honeypot: 'http://spam.example' } } });
    expect(result).toEqual({ kind: 'created', leadId: expect.any(String), spam: true });
    const lead = store.leads.get((result as { leadId: string }).leadId)!;
    expect(lead).toMatchObject({ status: 'spam', spam_reason: 'honeypot' });
    expect(lead).not.toHaveProperty('bot');
    expect(store.deliveries.size).toBe(0);
    expect(queue.jobs).toEqual([]);
    expect((await metrics.leadsSpam.get()).values).toEqual([expect.objectContaining({ labels: { brand: 'merciplus', reason: 'honeypot' }, value: 1 })]);
    expect((await metrics.leadsAccepted.get()).values).toEqual([]);
  });

  it('keeps a form filled faster than min_fill_seconds as spam, and a slower one as a lead', async () => {
    const { store, submit } = setup();
    const fast = await submit({ brand: guarded, body: { ...body, bot: { form_shown_at: shownAgo(1_000), captcha_token: 't' } } });
    expect(store.leads.get((fast as { leadId: string }).leadId)).toMatchObject({ status: 'spam', spam_reason: 'too_fast' });
    const human = await submit({ brand: guarded, body: { ...body, bot: { form_shown_at: shownAgo(20_000), captcha_token: 't' } } });
    expect(human).toMatchObject({ kind: 'created', spam: false });
    // A page clock running ahead (shown "in the future") is not taken for a bot.
    const skewed = await submit({ brand: guarded, body: { ...body, bot: { form_shown_at: shownAgo(-60_000), captcha_token: 't' } } });
    expect(skewed).toMatchObject({ kind: 'created', spam: false });
  });

  it('refuses a missing or refused captcha token before persisting anything', async () => {
    const captcha = fakeCaptcha('refused');
    const { store, submit } = setup(captcha);
    expect(await submit({ brand: guarded })).toEqual({ kind: 'captcha_failed' });
    expect(await submit({ brand: guarded, body: { ...body, bot: { captcha_token: 'bad' } } })).toEqual({ kind: 'captcha_failed' });
    expect(captcha.asked).toEqual(['bad']);
    expect(store.ingestCalls).toBe(0);
  });

  it('accepts a lead marked unverified when the provider is down (on_unavailable: accept), or refuses (reject)', async () => {
    const captcha = fakeCaptcha('unavailable');
    const { store, metrics, submit } = setup(captcha);
    const accepted = await submit({ brand: guarded, body: { ...body, bot: { captcha_token: 't' } } });
    expect(store.leads.get((accepted as { leadId: string }).leadId)).toMatchObject({ status: 'routed', captcha: 'unverified' });
    expect((await metrics.captchaUnavailable.get()).values[0]?.value).toBe(1);
    const strict = { ...guarded, bot: { ...guarded.bot!, captcha: { ...guarded.bot!.captcha!, onUnavailable: 'reject' as const } } };
    expect(await submit({ brand: strict, body: { ...body, bot: { captcha_token: 't' } } })).toEqual({ kind: 'unavailable' });
    captcha.verdict = 'passed';
    const verified = await submit({ brand: guarded, body: { ...body, bot: { captcha_token: 't' } } });
    expect(store.leads.get((verified as { leadId: string }).leadId)).toMatchObject({ captcha: 'verified' });
  });

  it('truncates IPv6 to /48 in the proof', async () => {
    const { store, submit } = setup();
    const result = await submit({ client: { keyKind: 'publishable', ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348', userAgent: null } });
    expect(store.leads.get((result as { leadId: string }).leadId)!.proof).toEqual({ key_kind: 'publishable', ip: '2001:db8:85a3::/48' });
  });
});
