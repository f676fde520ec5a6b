import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpCaptchaVerifier } from '../../src/adapters/http/captcha-verifier.js';
import type { BrandConfig, CaptchaConfig, LeadgateConfig } from '../../src/domain/config.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { buildTestApps } from '../helpers/apps.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

/**
 * The public edge as an attacker and a brand's page meet it: which key works from where, the
 * budgets per client IP and per brand, bot traps, captcha, and the admin API's own guard.
 * Client IPs come from X-Forwarded-For (trust proxy: one hop, as behind the ALB).
 */

const ORIGIN = 'https://www.merci-plus.example';
const SECRET = 'mp-secret-key-0123456789abcdef';
const PUBLISHABLE = 'mp-publishable-key-0123456789ab';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
const lead = { contact: { email: 'camille.martin@example.fr', phone: '06 12 34 56 78' }, service: 'menage' };

interface Harness {
  publicApp: FastifyInstance;
  opsApp: FastifyInstance;
  store: MemoryStore;
  metrics: Metrics;
  logs: Array<Record<string, unknown>>;
}

let current: Harness | null = null;
const servers: Server[] = [];

afterEach(async () => {
  await current?.publicApp.close();
  await current?.opsApp.close();
  current = null;
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function start(brands: BrandConfig[], options: { unknownKeyPerMinute?: number; captcha?: HttpCaptchaVerifier } = {}): Promise<Harness> {
  const config: LeadgateConfig = {
    brands,
    destinations: [destination({ id: 'crm', url: 'http://127.0.0.1:9/leads' })],
    routes: [route({ destinations: ['crm'] })],
  };
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino(loggerOptions('info'), { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const store = new MemoryStore();
  const metrics = createMetrics();
  const { publicApp, opsApp } = await buildTestApps({
    config,
    store,
    queue: new FakeQueue(),
    metrics,
    logger,
    adminToken: ADMIN_TOKEN,
    trustProxy: 1,
    unknownKeyPerMinute: options.unknownKeyPerMinute ?? 10,
    captcha: options.captcha,
  });
  current = { publicApp, opsApp, store, metrics, logs };
  return current;
}

const merciplus = (overrides: Partial<BrandConfig> = {}) =>
  brand({ id: 'merciplus', apiKeys: [SECRET], publishableKeys: [PUBLISHABLE], allowedOrigins: [ORIGIN], ...overrides });

function post(h: Harness, options: { key?: string; origin?: string; ip?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'x-forwarded-for': options.ip ?? '198.51.100.7' };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.origin !== undefined) headers.origin = options.origin;
  return h.publicApp.inject({ method: 'POST', url: '/v1/leads', headers, payload: (options.body ?? lead) as object });
}

describe('keys and callers', () => {
  it('takes each key only from the callers it is for', async () => {
    const h = await start([merciplus()]);
    const cases: Array<[string, { key: string; origin?: string }, number]> = [
      ['publishable key, listed page origin', { key: PUBLISHABLE, origin: ORIGIN }, 202],
      ['publishable key, other page origin', { key: PUBLISHABLE, origin: 'https://evil.example' }, 403],
      ['publishable key, no origin (a script, not a page)', { key: PUBLISHABLE }, 403],
      ['secret key, server (no origin)', { key: SECRET }, 202],
      ['secret key, listed page origin', { key: SECRET, origin: ORIGIN }, 403],
      ['secret key, other page origin', { key: SECRET, origin: 'https://evil.example' }, 403],
    ];
    const seen = [];
    for (const [name, options] of cases) {
      const res = await post(h, options);
      seen.push([name, res.statusCode, res.statusCode === 403 ? res.json().error : null]);
    }
    expect(seen).toEqual(cases.map(([name, , status]) => [name, status, status === 403 ? 'origin_not_allowed' : null]));
    // A secret key in a page is a mistake to surface (brand id only, never the key).
    const warning = h.logs.find((l) => l.msg === 'secret api key sent from a browser origin');
    expect(warning).toMatchObject({ brand: 'merciplus' });
    expect(JSON.stringify(h.logs)).not.toContain(SECRET);
  });

  it('takes a secret key from a listed origin when the brand allows it explicitly', async () => {
    const h = await start([merciplus({ secretKeysInBrowser: true })]);
    expect((await post(h, { key: SECRET, origin: ORIGIN })).statusCode).toBe(202);
    expect((await post(h, { key: SECRET, origin: 'https://evil.example' })).statusCode).toBe(403);
  });
});

describe('budgets', () => {
  it('gives each client IP its own budget for publishable keys, bad requests included', async () => {
    const h = await start([merciplus({ perIp: { perMinute: 5, secretKeys: false } })]);
    const attacker = '203.0.113.66';
    const flood = [];
    for (let i = 0; i < 8; i++) flood.push((await post(h, { key: PUBLISHABLE, origin: ORIGIN, ip: attacker, body: {} })).statusCode);
    expect(flood).toEqual([400, 400, 400, 400, 400, 429, 429, 429]);
    const limited = await post(h, { key: PUBLISHABLE, origin: ORIGIN, ip: attacker });
    expect([limited.statusCode, limited.json().error]).toEqual([429, 'rate_limited']);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another visitor of the same brand is untouched.
    expect((await post(h, { key: PUBLISHABLE, origin: ORIGIN, ip: '198.51.100.20' })).statusCode).toBe(202);
    expect((await h.metrics.budgetRejections.get()).values).toEqual([expect.objectContaining({ labels: { budget: 'ip_publishable' }, value: 4 })]);
  });

  it('limits missing and unknown keys per client IP, logging the IP truncated and never the key', async () => {
    const h = await start([merciplus()], { unknownKeyPerMinute: 3 });
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push((await post(h, { key: `guess-${i}-0123456789abcdefghij`, ip: '203.0.113.9' })).statusCode);
    expect(guesses).toEqual([401, 401, 401, 429, 429]);
    expect((await post(h, { ip: '203.0.113.9' })).statusCode).toBe(429);
    expect((await post(h, { ip: '198.51.100.1' })).statusCode).toBe(401);
    // The brand's own server is not affected by someone else's guessing.
    expect((await post(h, { key: SECRET, ip: '203.0.113.9' })).statusCode).toBe(202);
    const lines = h.logs.filter((l) => l.msg === 'unknown api key');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ ip: '203.0.113.0/24', keyPresent: true });
    expect(JSON.stringify(h.logs)).not.toContain('guess-');
  });

  it('does not limit a valid secret key per IP unless the brand asks', async () => {
    const free = await start([merciplus({ perIp: { perMinute: 2, secretKeys: false } })]);
    for (let i = 0; i < 4; i++) expect((await post(free, { key: SECRET, ip: '192.0.2.10' })).statusCode).toBe(202);
    await free.publicApp.close();
    await free.opsApp.close();
    const strict = await start([merciplus({ perIp: { perMinute: 2, secretKeys: true } })]);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(strict, { key: SECRET, ip: '192.0.2.10' })).statusCode);
    expect(statuses).toEqual([202, 202, 429]);
  });

  it("spends the brand's budget on accepted leads only, so bad requests and spam cannot lock a brand out", async () => {
    const h = await start([merciplus({ rateLimitPerMinute: 2, perIp: { perMinute: 1000, secretKeys: false } })]);
    for (let i = 0; i < 5; i++) expect((await post(h, { key: SECRET, body: {} })).statusCode).toBe(400);
    expect((await post(h, { key: SECRET, body: { ...lead, bot: { honeypot: 'x' } } })).statusCode).toBe(202);
    expect((await post(h, { key: SECRET })).statusCode).toBe(202);
    expect((await post(h, { key: SECRET })).statusCode).toBe(202);
    const over = await post(h, { key: SECRET });
    expect([over.statusCode, over.json().error]).toEqual([429, 'rate_limited']);
  });
});

describe('bot traps', () => {
  it('answers a filled honeypot and a too-fast form like any lead, keeps them as spam, visible to ops', async () => {
    const h = await start([merciplus({ bot: { honeypot: 'website', minFillMs: 3_000, captcha: null } })]);
    const honeypot = await post(h, { key: PUBLISHABLE, origin: ORIGIN, body: { ...lead, bot: { honeypot: 'https://spam.example' } } });
    const tooFast = await post(h, { key: PUBLISHABLE, origin: ORIGIN, body: { ...lead, bot: { form_shown_at: new Date().toISOString() } } });
    const person = await post(h, {
      key: PUBLISHABLE,
      origin: ORIGIN,
      body: { ...lead, bot: { honeypot: '', form_shown_at: new Date(Date.now() - 30_000).toISOString() } },
    });
    for (const res of [honeypot, tooFast, person]) expect(Object.keys(res.json())).toEqual(['id', 'status']);
    expect([honeypot.statusCode, tooFast.statusCode, person.statusCode]).toEqual([202, 202, 202]);

    const view = async (id: string) =>
      (await h.opsApp.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    expect(await view(honeypot.json().id)).toMatchObject({ status: 'spam', spam_reason: 'honeypot', deliveries: [] });
    expect(await view(tooFast.json().id)).toMatchObject({ status: 'spam', spam_reason: 'too_fast', deliveries: [] });
    expect(await view(person.json().id)).toMatchObject({ status: 'routed', proof: { key_kind: 'publishable', ip: '198.51.100.0/24' } });
    const spam = (await h.metrics.leadsSpam.get()).values.map((v) => [v.labels.reason, v.value]);
    expect(spam).toEqual([['honeypot', 1], ['too_fast', 1]]);
  });
});

/** A loopback siteverify: answers by token, like Turnstile's test keys; `down` answers 500. */
async function startSiteverify(): Promise<{ url: string; requests: URLSearchParams[]; mode: { down: boolean; hang: boolean } }> {
  const requests: URLSearchParams[] = [];
  const mode = { down: false, hang: false };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      requests.push(form);
      if (mode.hang) return; // never answers: the verifier's timeout must fire
      if (mode.down) {
        res.writeHead(500).end('oops');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: form.get('response') === 'good-token', 'error-codes': [] }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/siteverify`, requests, mode };
}

describe('captcha', () => {
  const captchaBrand = (verifyUrl: string, onUnavailable: CaptchaConfig['onUnavailable'] = 'accept') =>
    merciplus({
      bot: {
        honeypot: 'website',
        minFillMs: null,
        captcha: { provider: 'turnstile', secret: 'turnstile-secret', verifyUrl, minScore: null, timeoutMs: 300, onUnavailable },
      },
    });

  it('verifies the token server-side: missing or refused → 400 captcha_failed, accepted → 202', async () => {
    const siteverify = await startSiteverify();
    const verifier = new HttpCaptchaVerifier();
    const h = await start([captchaBrand(siteverify.url)], { captcha: verifier });
    const missing = await post(h, { key: SECRET });
    const refused = await post(h, { key: SECRET, body: { ...lead, bot: { captcha_token: 'bad-token' } } });
    const accepted = await post(h, { key: SECRET, body: { ...lead, bot: { captcha_token: 'good-token' } } });
    expect([missing.statusCode, missing.json().error]).toEqual([400, 'captcha_failed']);
    expect([refused.statusCode, refused.json().error]).toEqual([400, 'captcha_failed']);
    expect(accepted.statusCode).toBe(202);
    expect(h.store.leads.get(accepted.json().id)).toMatchObject({ captcha: 'verified', status: 'routed' });
    expect(h.store.leads.size).toBe(1);
    // What the provider was sent: the brand's secret, the token, the client IP.
    expect(siteverify.requests.map((r) => [r.get('secret'), r.get('response'), r.get('remoteip')])).toEqual([
      ['turnstile-secret', 'bad-token', '198.51.100.7'],
      ['turnstile-secret', 'good-token', '198.51.100.7'],
    ]);
    await verifier.close();
  });

  it('when the provider is down or silent: accepts and marks the lead unverified, or refuses with 503 if the brand says so', async () => {
    const siteverify = await startSiteverify();
    const verifier = new HttpCaptchaVerifier();
    const h = await start([captchaBrand(siteverify.url), brand({ id: 'strict', apiKeys: ['strict-secret-key-0123456789ab'], bot: captchaBrand(siteverify.url, 'reject').bot })], {
      captcha: verifier,
    });
    siteverify.mode.down = true;
    const down = await post(h, { key: SECRET, body: { ...lead, bot: { captcha_token: 'good-token' } } });
    expect(down.statusCode).toBe(202);
    expect(h.store.leads.get(down.json().id)).toMatchObject({ captcha: 'unverified' });
    siteverify.mode.hang = true;
    const silent = await post(h, { key: SECRET, body: { ...lead, bot: { captcha_token: 'good-token' } } });
    expect(h.store.leads.get(silent.json().id)).toMatchObject({ captcha: 'unverified' });
    const strict = await post(h, { key: 'strict-secret-key-0123456789ab', body: { ...lead, bot: { captcha_token: 'good-token' } } });
    expect([strict.statusCode, strict.json().error, strict.headers['retry-after']]).toEqual([503, 'unavailable', '5']);
    expect((await h.metrics.captchaUnavailable.get()).values.map((v) => [v.labels.brand, v.value])).toEqual([
      ['merciplus', 2],
      ['strict', 1],
    ]);
    await verifier.close();
  });
});

describe('admin guard', () => {
  const admin = (h: Harness, token: string, ip = '10.0.0.5') =>
    h.opsApp.inject({ method: 'GET', url: '/v1/deliveries', headers: { authorization: `Bearer ${token}` }, remoteAddress: ip });

  it('throttles failed sign-ins per IP and writes an audit line for every admin request, ids only', async () => {
    const h = await start([merciplus()]);
    const accepted = await post(h, { key: SECRET });
    const id = accepted.json().id as string;
    const tries = [];
    for (let i = 0; i < 7; i++) tries.push((await admin(h, `wrong-token-${i}`)).statusCode);
    expect(tries).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Even the right token waits once the IP is over its budget; another IP is not affected.
    expect((await admin(h, ADMIN_TOKEN)).statusCode).toBe(429);
    expect((await admin(h, ADMIN_TOKEN, '10.0.0.6')).statusCode).toBe(200);
    const read = await h.opsApp.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, remoteAddress: '10.0.0.7' });
    expect(read.statusCode).toBe(200);

    const audit = h.logs.filter((l) => l.msg === 'admin audit');
    expect(audit).toHaveLength(10);
    expect(audit.at(-1)).toMatchObject({ audit: true, actor: 'admin-token', action: 'GET /v1/leads/:id', leadId: id, outcome: 'ok', statusCode: 200, ip: '10.0.0.0/24' });
    expect(audit[0]).toMatchObject({ actor: 'unauthenticated', outcome: 'denied', statusCode: 401 });
    const text = JSON.stringify(h.logs);
    for (const secret of ['camille', '33612345678', 'wrong-token', ADMIN_TOKEN]) expect(text).not.toContain(secret);
  });
});
