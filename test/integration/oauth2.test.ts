import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDestinationClient } from '../../src/adapters/http/destination-client.js';
import { OAuth2TokenProvider, parseTokenResponse } from '../../src/adapters/http/oauth2-token.js';
import type { DestinationConfig } from '../../src/domain/config.js';
import type { Lead } from '../../src/domain/lead.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { OAuth2Auth } from '../../src/ports/token-provider.js';
import { createDeliveryHandler } from '../../src/worker/delivery-handler.js';
import { closedPort, startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { config, destination } from '../helpers/config-factories.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { startFakeOAuth2Server, type FakeOAuth2Server } from '../helpers/oauth2-server.js';

const CLIENT_ID = 'leadgate-client';
const CLIENT_SECRET = 'cs_S3cr3t-value+/=&';
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

let idp: FakeOAuth2Server;
let clock: number;
let provider: OAuth2TokenProvider;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  idp = await startFakeOAuth2Server({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  clock = T0;
  provider = new OAuth2TokenProvider({ now: () => clock });
  cleanups.push(() => idp.close(), () => provider.close());
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const oauth2 = (overrides: Partial<OAuth2Auth> = {}): OAuth2Auth => ({
  type: 'oauth2',
  tokenUrl: idp.url,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  scope: 'leads:write',
  audience: 'https://crm.example/api',
  ...overrides,
});

describe('OAuth2TokenProvider', () => {
  it('asks with client_secret_basic and a form body holding the grant, scope and audience', async () => {
    const token = await provider.getToken('crm', oauth2(), 2_000);
    expect(token).toEqual({ ok: true, accessToken: idp.issued[0] });
    const [req] = idp.requests;
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req!.basic).toEqual([CLIENT_ID, CLIENT_SECRET]);
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    expect(Buffer.from(req!.headers.authorization!.slice(6), 'base64').toString()).toBe('leadgate-client:cs_S3cr3t-value%2B%2F%3D%26');
    expect(req!.rawBody).toBe('grant_type=client_credentials&scope=leads%3Awrite&audience=https%3A%2F%2Fcrm.example%2Fapi');
    expect(req!.rawBody).not.toContain('S3cr3t');
  });

  it('leaves scope and audience out when not set', async () => {
    await provider.getToken('crm', oauth2({ scope: null, audience: null }), 2_000);
    expect(idp.requests[0]!.rawBody).toBe('grant_type=client_credentials');
  });

  it('fetches once and reuses the token; concurrent callers share one request', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => provider.getToken('crm', oauth2(), 2_000)));
    expect(idp.requests).toHaveLength(1);
    expect(new Set(tokens.map((t) => (t.ok ? t.accessToken : null)))).toEqual(new Set([idp.issued[0]]));
    await provider.getToken('crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(1);
    // Another destination has its own token.
    await provider.getToken('other-crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(2);
  });

  it('refreshes before expiry: expires_in minus 10 %, at most 60 s (injected clock, no sleeps)', async () => {
    idp.expiresIn = 3600;
    await provider.getToken('crm', oauth2(), 2_000);
    clock = T0 + 3_539_000; // 61 s before expiry
    expect(await provider.getToken('crm', oauth2(), 2_000)).toEqual({ ok: true, accessToken: idp.issued[0] });
    expect(idp.requests).toHaveLength(1);
    clock = T0 + 3_540_000; // 60 s before expiry
    expect(await provider.getToken('crm', oauth2(), 2_000)).toEqual({ ok: true, accessToken: idp.issued[1] });
    expect(idp.requests).toHaveLength(2);

    idp.expiresIn = 30; // short-lived: the margin is 3 s
    clock = T0 + 10_000_000;
    await provider.getToken('crm', oauth2(), 2_000);
    clock += 26_999;
    await provider.getToken('crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(3);
    clock += 1;
    await provider.getToken('crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(4);
  });

  it('invalidate drops the rejected token only if it is still the cached one', async () => {
    const first = await provider.getToken('crm', oauth2(), 2_000);
    provider.invalidate('crm', 'some-older-token');
    await provider.getToken('crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(1);
    provider.invalidate('crm', first.ok ? first.accessToken : '');
    const second = await provider.getToken('crm', oauth2(), 2_000);
    expect(idp.requests).toHaveLength(2);
    expect(second).toEqual({ ok: true, accessToken: idp.issued[1] });
  });

  it('reports a failing endpoint without secrets, and keeps a still valid token when a refresh fails', async () => {
    idp.failWith(503);
    const failed = await provider.getToken('crm', oauth2(), 2_000);
    expect(failed).toMatchObject({ ok: false, error: 'oauth2 token: http 503' });

    const refused = await provider.getToken('crm', oauth2({ tokenUrl: `http://127.0.0.1:${await closedPort()}/token` }), 2_000);
    expect(refused).toMatchObject({ ok: false, error: 'oauth2 token: network: ECONNREFUSED' });

    idp.failWith(null);
    const wrongSecret = await provider.getToken('crm', oauth2({ clientSecret: 'nope-secret' }), 2_000);
    expect(wrongSecret).toMatchObject({ ok: false, error: 'oauth2 token: http 401' });

    const good = await provider.getToken('crm', oauth2(), 2_000);
    clock = T0 + 3_550_000; // due for refresh, not yet expired
    idp.failWith(500);
    expect(await provider.getToken('crm', oauth2(), 2_000)).toEqual(good);
    clock = T0 + 3_600_000; // expired
    expect(await provider.getToken('crm', oauth2(), 2_000)).toMatchObject({ ok: false, error: 'oauth2 token: http 500' });

    for (const result of [failed, refused, wrongSecret]) expect(JSON.stringify(result)).not.toMatch(/S3cr3t|nope-secret|leadgate-client/);
  });

  it('refuses malformed token responses', () => {
    expect(parseTokenResponse('{"access_token":"abc","token_type":"bearer","expires_in":"60"}')).toEqual({ accessToken: 'abc', expiresInMs: 60_000 });
    expect(parseTokenResponse('{"access_token":"abc"}')).toEqual({ accessToken: 'abc', expiresInMs: null });
    for (const bad of ['', 'nope', '{}', '{"access_token":""}', '{"access_token":"a b"}', '{"access_token":"a","token_type":"mac"}', '{"access_token":"a","expires_in":-1}']) {
      expect(parseTokenResponse(bad)).toBeNull();
    }
  });
});

describe('delivery handler with OAuth2 against loopback servers', () => {
  let crm: FakeCrm;
  let store: MemoryStore;
  let client: HttpDestinationClient;
  let rawLog: string;
  let handler: ReturnType<typeof createDeliveryHandler>;
  let crmConfig: DestinationConfig;
  let leadCount = 0;

  const lead = (): Lead => ({
    id: `lead_${++leadCount}`,
    brand: 'merciplus',
    received_at: new Date(clock).toISOString(),
    status: 'routed',
    contact: { first_name: 'Camille', email: 'camille.martin@example.fr', phone: '+33612345678' },
    service: 'menage',
  });

  async function newDelivery(): Promise<string> {
    const l = lead();
    const id = `dlv_${l.id}`;
    await store.ingest({ lead: l, deliveries: [{ id, destination: 'crm' }] });
    return id;
  }

  beforeEach(async () => {
    crm = await startFakeCrm({ responder: (req) => ({ status: idp.isValid(req.headers.authorization) ? 200 : 401 }) });
    client = new HttpDestinationClient();
    cleanups.push(() => crm.close(), () => client.close());
    store = new MemoryStore(() => clock);
    rawLog = '';
    crmConfig = destination({ id: 'crm', url: crm.url, timeoutMs: 2_000, retry: { delaysMs: [5_000, 60_000, 60_000] }, auth: oauth2() });
    handler = createDeliveryHandler({
      config: config({ destinations: [crmConfig] }),
      store,
      client,
      tokens: provider,
      metrics: createMetrics(),
      logger: pino(loggerOptions('debug'), { write: (line: string) => void (rawLog += line) }),
      now: () => clock,
      random: () => 0.5,
    });
  });

  const run = (deliveryId: string) => handler({ deliveryId, runAt: clock });

  it('fetches the token once and reuses it across deliveries', async () => {
    const ids = await Promise.all([newDelivery(), newDelivery(), newDelivery()]);
    await Promise.all(ids.map(run));
    expect(idp.requests).toHaveLength(1);
    expect(crm.requests.map((r) => r.headers.authorization)).toEqual(ids.map(() => `Bearer ${idp.issued[0]}`));
    for (const id of ids) expect((await store.getDelivery(id))!.status).toBe('delivered');
  });

  it('a rejected token (401) is dropped, and the next attempt fetches a new one and delivers', async () => {
    const first = await newDelivery();
    await run(first);
    idp.revoke(idp.issued[0]!);

    const second = await newDelivery();
    expect(await run(second)).toEqual({ retryAt: clock + 5_000 });
    expect(await store.getDelivery(second)).toMatchObject({ status: 'pending', lastStatusCode: 401, lastError: 'http 401' });
    expect(idp.requests).toHaveLength(1);

    clock += 5_000;
    expect(await run(second)).toBeUndefined();
    expect(idp.requests).toHaveLength(2);
    expect(crm.requests.at(-1)!.headers.authorization).toBe(`Bearer ${idp.issued[1]}`);
    expect(await store.getDelivery(second)).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('a second 401 in a row (credentials really refused) is dead', async () => {
    crm.respondWith({ status: 401 });
    const id = await newDelivery();
    await run(id);
    clock += 5_000;
    await run(id);
    expect(idp.requests).toHaveLength(2); // the second attempt did use a fresh token
    expect(await store.getDelivery(id)).toMatchObject({ status: 'dead', attempts: 2, lastStatusCode: 401 });
  });

  it('token endpoint down: retryable auth failure, nothing sent, no secret in logs', async () => {
    await idp.close();
    const id = await newDelivery();
    expect(await run(id)).toEqual({ retryAt: clock + 5_000 });
    expect(crm.requests).toHaveLength(0);
    const [attempt] = await store.listAttempts(id);
    expect(attempt).toMatchObject({ errorClass: 'auth', outcome: 'retry', statusCode: null, error: 'oauth2 token: network: ECONNREFUSED' });
    expect(rawLog).toContain('"errorClass":"auth"');
    for (const secret of [CLIENT_SECRET, CLIENT_ID, 'camille', '+33612345678']) expect(rawLog).not.toContain(secret);
  });

  it('never logs the access token or the client secret, whatever happens', async () => {
    const ok = await newDelivery();
    await run(ok);
    idp.revoke(idp.issued[0]!);
    const rejected = await newDelivery();
    await run(rejected);
    idp.failWith(503);
    clock += 5_000;
    await run(rejected);
    expect(rawLog).toContain('"errorClass":"auth"');
    expect(rawLog).toContain('"statusCode":401');
    for (const secret of [CLIENT_SECRET, encodeURIComponent(CLIENT_SECRET), ...idp.issued, 'Basic ', 'Bearer ']) {
      expect(rawLog).not.toContain(secret);
    }
  });
});
