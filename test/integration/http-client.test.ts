import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDestinationClient, parseRetryAfter } from '../../src/adapters/http/destination-client.js';
import type { OutboundRequest } from '../../src/ports/destination-client.js';
import { closedPort, startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';

let crm: FakeCrm;
let client: HttpDestinationClient;

beforeEach(async () => {
  crm = await startFakeCrm();
  client = new HttpDestinationClient();
});

afterEach(async () => {
  await client.close();
  await crm.close();
});

const outbound = (overrides: Partial<OutboundRequest> = {}): OutboundRequest => ({
  url: crm.url,
  headers: { 'content-type': 'application/json', 'webhook-id': 'dlv_1', 'webhook-timestamp': '1700000000' },
  body: '{"type":"lead.created"}',
  timeoutMs: 5_000,
  ...overrides,
});

describe('HttpDestinationClient', () => {
  it('POSTs the body and headers and reports a 200', async () => {
    crm.respondWith({ status: 200, body: '{"crm_id":42}' });
    const result = await client.send(outbound());
    expect(result).toMatchObject({ kind: 'response', statusCode: 200, retryAfterMs: null, body: '{"crm_id":42}' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(crm.requests).toHaveLength(1);
    const [req] = crm.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/leads', body: '{"type":"lead.created"}' });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['webhook-id']).toBe('dlv_1');
    expect(crm.countById('dlv_1')).toBe(1);
  });

  it('reports a 503 with Retry-After in ms', async () => {
    crm.respondWith({ status: 503, headers: { 'retry-after': '120' }, body: 'maintenance' });
    expect(await client.send(outbound())).toMatchObject({
      kind: 'response',
      statusCode: 503,
      retryAfterMs: 120_000,
      body: 'maintenance',
    });
  });

  it('reports a 4xx as a response, not a failure', async () => {
    crm.respondWith({ status: 400, body: '{"error":"bad field"}' });
    expect(await client.send(outbound())).toMatchObject({ kind: 'response', statusCode: 400 });
  });

  it('does not follow redirects', async () => {
    crm.respondWith({ status: 302, headers: { location: '/elsewhere' } });
    expect(await client.send(outbound())).toMatchObject({ kind: 'response', statusCode: 302 });
    expect(crm.requests).toHaveLength(1);
  });

  it('turns a destination that never answers into a timeout', async () => {
    crm.respondWith({ hang: true });
    const result = await client.send(outbound({ timeoutMs: 200 }));
    expect(result).toEqual({ kind: 'failure', errorClass: 'timeout', error: 'timeout after 200 ms', durationMs: expect.any(Number) });
    // The CRM never answers, so only the client's deadline can end send(); not before it.
    expect(result.durationMs).toBeGreaterThanOrEqual(150);
  });

  it('turns a slow answer past the deadline into a timeout', async () => {
    crm.respondWith({ status: 200, delayMs: 2_000 });
    expect(await client.send(outbound({ timeoutMs: 100 }))).toMatchObject({ kind: 'failure', errorClass: 'timeout' });
  });

  it('turns a refused connection into a network failure naming only the code', async () => {
    const port = await closedPort();
    const result = await client.send(outbound({ url: `http://user:s3cret@127.0.0.1:${port}/leads?token=abc` }));
    expect(result).toEqual({ kind: 'failure', errorClass: 'network', error: 'network: ECONNREFUSED', durationMs: expect.any(Number) });
  });

  it('turns a reset connection into a network failure', async () => {
    crm.respondWith({ reset: true });
    const result = await client.send(outbound());
    expect(result).toMatchObject({ kind: 'failure', errorClass: 'network' });
    if (result.kind === 'failure') {
      expect(result.error).toMatch(/^network: [A-Z0-9_]+$/);
      expect(result.error).not.toContain('127.0.0.1');
    }
  });

  it('turns an unknown host into a network failure', async () => {
    const result = await client.send(outbound({ url: 'http://leadgate-test.invalid/leads', timeoutMs: 5_000 }));
    expect(result.kind).toBe('failure');
    if (result.kind === 'failure') expect(result.error).toMatch(/^network: E[A-Z_]+$|^timeout after/);
  });

  it('keeps only the first KiB of a big answer', async () => {
    crm.respondWith({ status: 500, body: 'é'.repeat(300) + 'x'.repeat(200_000) });
    const result = await client.send(outbound());
    expect(result).toMatchObject({ kind: 'response', statusCode: 500 });
    if (result.kind === 'response') {
      expect(Buffer.byteLength(result.body)).toBeLessThanOrEqual(1024 + 3);
      expect(result.body.startsWith('é'.repeat(300))).toBe(true);
    }
  });

  it('reuses its keep-alive connections across requests and serves concurrent sends', async () => {
    crm.respondWith((req) => ({ status: 200, body: req.headers['webhook-id'] as string }));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.send(outbound({ headers: { 'webhook-id': `dlv_${i}` } }))),
    );
    expect(results.map((r) => r.kind === 'response' && r.body)).toEqual(Array.from({ length: 20 }, (_, i) => `dlv_${i}`));
    const more = await client.send(outbound());
    expect(more).toMatchObject({ kind: 'response', statusCode: 200 });
    expect(crm.requests).toHaveLength(21);
  });

  it('answers the scripted responses in order, then the default', async () => {
    crm.queueResponses({ status: 503 }, { status: 429, headers: { 'retry-after': '1' } });
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const r = await client.send(outbound());
      codes.push(r.kind === 'response' ? r.statusCode : r.errorClass);
    }
    expect(codes).toEqual([503, 429, 200]);
    await expect(crm.waitForRequests(3)).resolves.toHaveLength(3);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);
  it.each([
    [undefined, null],
    ['0', 0],
    ['30', 30_000],
    [' 7 ', 7_000],
    ['Wed, 15 Jan 2025 12:01:00 GMT', 60_000],
    ['Wed, 15 Jan 2025 11:00:00 GMT', 0],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
    ['', null],
  ])('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('fake CRM helper', () => {
  it('waitForRequests resolves on the request event, with a predicate', async () => {
    const waiting = crm.waitForRequests(2, { predicate: (r) => r.headers['webhook-id'] === 'dlv_b' });
    await client.send(outbound({ headers: { 'webhook-id': 'dlv_a' } }));
    await client.send(outbound({ headers: { 'webhook-id': 'dlv_b' } }));
    await client.send(outbound({ headers: { 'webhook-id': 'dlv_b' } }));
    const found = await waiting;
    expect(found.map((r) => r.headers['webhook-id'])).toEqual(['dlv_b', 'dlv_b']);
    expect(crm.requestsById('dlv_b')).toHaveLength(2);
  });

  it('waitForRequests fails with a clear message when nothing arrives', async () => {
    await expect(crm.waitForRequests(1, { timeoutMs: 50 })).rejects.toThrow(/expected 1 matching requests/);
  });

  it('closes while a request hangs', async () => {
    crm.respondWith({ hang: true });
    const pending = client.send(outbound({ timeoutMs: 10_000 }));
    await crm.waitForRequests(1);
    await crm.close();
    expect(await pending).toMatchObject({ kind: 'failure', errorClass: 'network' });
  });
});
