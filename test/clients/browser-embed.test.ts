import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse } from 'acorn';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { embedScriptPath, registerEmbedRoute } from '../../src/http/routes/embed.js';
import { buildTestPublicApp } from '../helpers/apps.js';
import { brand, config } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

/**
 * The built embed (dist/embed.js: `npm test` builds first) and how the public listener serves
 * it. The browser behaviour is test/clients/browser.test.ts.
 */

const ORIGIN = 'https://www.merci-plus.example';
let script: Buffer;
let app: FastifyInstance;

beforeAll(async () => {
  script = readFileSync(embedScriptPath());
  app = await buildTestPublicApp({
    config: config({ brands: [brand({ id: 'merciplus', apiKeys: ['mp-key-0123456789abcdefghij'], allowedOrigins: [ORIGIN] })] }),
    store: new MemoryStore(),
    queue: new FakeQueue(),
  });
  await app.ready();
});

afterAll(() => app.close());

describe('the built embed', () => {
  it('is at most 5 KB gzipped', () => {
    const size = gzipSync(script, { level: 9 }).length;
    console.log(`[embed] dist/embed.js: ${script.length} bytes, ${size} bytes gzipped`);
    expect(size).toBeLessThanOrEqual(5120);
  });

  it('parses as an ES2019 script and has no import or require (no runtime dependency)', () => {
    expect(() => parse(script.toString('utf8'), { ecmaVersion: 2019, sourceType: 'script' })).not.toThrow();
    // What ES2020+ syntax looks like to an ES2019 parser: the check above would refuse it.
    expect(() => parse('a?.b ?? c', { ecmaVersion: 2019, sourceType: 'script' })).toThrow();
    expect(script.toString('utf8')).not.toMatch(/\brequire\(|\bimport[ (]/);
  });

  it('README.md and docs/brand-sites.md carry its SRI hash (run `npm run docs:embed` after changing it)', () => {
    const integrity = `sha384-${createHash('sha384').update(script).digest('base64')}`;
    for (const file of ['README.md', 'docs/brand-sites.md']) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      const found = [...text.matchAll(/integrity="(sha384-[A-Za-z0-9+/=]+)"/g)].map((m) => m[1]);
      expect(found.length, file).toBeGreaterThan(0);
      expect(found, `${file} is stale: run \`npm run docs:embed\``).toEqual(found.map(() => integrity));
    }
  });
});

/** GET /v1/embed.js through inject, with request headers. */
const get = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/v1/embed.js', headers });

describe('GET /v1/embed.js on the public listener', () => {
  it('serves the script, cacheable, with an ETag, readable from any origin', async () => {
    const res = await get({ origin: 'https://another-brand.example', 'accept-encoding': 'identity' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.rawPayload.equals(script)).toBe(true);
  });

  it('answers 304 to If-None-Match with its ETag (strong, weak, in a list, or *), 200 to another', async () => {
    const first = await get({ 'accept-encoding': 'identity' });
    expect(first.statusCode).toBe(200);
    const etag = first.headers.etag as string;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await get({ 'accept-encoding': 'identity', 'if-none-match': ifNoneMatch });
      expect([ifNoneMatch, res.statusCode]).toEqual([ifNoneMatch, 304]);
      expect(res.headers.etag, ifNoneMatch).toBe(etag);
      expect(res.body).toBe('');
    }
    expect((await get({ 'accept-encoding': 'identity', 'if-none-match': '"other"' })).statusCode).toBe(200);
  });

  it('sends it gzipped when accepted, under its own ETag', async () => {
    const plain = await get({ 'accept-encoding': 'identity' });
    expect(plain.statusCode).toBe(200);
    const res = await app.inject({ method: 'GET', url: '/v1/embed.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toMatch(/Accept-Encoding/i);
    expect(res.headers.etag).not.toBe(plain.headers.etag);
    expect(gunzipSync(res.rawPayload).equals(script)).toBe(true);
    const again = await app.inject({ method: 'GET', url: '/v1/embed.js', headers: { 'accept-encoding': 'gzip', 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('is not under the ingest CORS: no preflight answer, no origin reflected', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/embed.js',
      headers: { origin: ORIGIN, 'access-control-request-method': 'GET' },
    });
    expect(preflight.statusCode).toBe(404);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const res = await get({ origin: ORIGIN });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('reads the file once, at registration; answers 404 without a build', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadgate-embed-'));
    try {
      const path = join(dir, 'embed.js');
      writeFileSync(path, 'console.log(1)');
      const built = Fastify({ logger: false });
      registerEmbedRoute(built, path);
      writeFileSync(path, 'console.log(2)');
      expect((await built.inject({ url: '/v1/embed.js' })).body).toBe('console.log(1)');
      await built.close();

      const unbuilt = Fastify({ logger: false });
      registerEmbedRoute(unbuilt, join(dir, 'missing.js'));
      expect((await unbuilt.inject({ url: '/v1/embed.js' })).statusCode).toBe(404);
      await unbuilt.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
