import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { deliveryView, readLeadView } from '../../src/views/lead-views.js';
import { formatOpenApiDocument, generateOpenApiDocument } from '../../src/http/openapi-document.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { buildTestApps } from '../helpers/apps.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { LEAD_EXAMPLE } from '../../src/http/schemas/lead-example.js';

const COMMITTED = new URL('../../openapi.json', import.meta.url);
const TOKEN = 'admin-token-for-openapi-0123456789abcdef';

/** Every operation CONTRACT.md names, plus the destination controls of the README. */
const CONTRACT_OPERATIONS = [
  'post /v1/leads',
  'get /v1/embed.js',
  'get /v1/leads/{id}',
  'get /v1/deliveries',
  'post /v1/deliveries/{id}/replay',
  'post /v1/deliveries/replay',
  'get /health/live',
  'get /health/ready',
  'get /metrics',
  'get /v1/destinations',
  'post /v1/destinations/{id}/pause',
  'post /v1/destinations/{id}/resume',
  'post /v1/privacy/exports',
  'post /v1/privacy/erasures',
  'get /v1/privacy/erasures/{id}',
];

const config: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key'], duplicateWindowMs: 86_400_000 })],
  destinations: [
    destination({ id: 'crm-main', url: 'http://127.0.0.1:9/leads' }),
    destination({ id: 'crm-b', url: 'http://127.0.0.1:9/b', maxInFlight: 4, rateLimitPerSecond: 2.5 }),
  ],
  routes: [route({ destinations: ['crm-main', 'crm-b'] })],
};

const fullLead = { ...LEAD_EXAMPLE, meta: { campaign: 'spring', channel: 'web' } };

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; security?: unknown; responses: Record<string, any> }>>;
};

/** The ops listener (docs, admin) and the public one (ingest). */
let app: FastifyInstance;
let publicApp: FastifyInstance;
let store: MemoryStore;
let committedText: string;

beforeAll(async () => {
  committedText = readFileSync(COMMITTED, 'utf8');
  store = new MemoryStore();
  ({ opsApp: app, publicApp } = await buildTestApps({
    config,
    store,
    queue: new FakeQueue(),
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    adminToken: TOKEN,
    demoCrm: true,
    breakerState: (id) => (id === 'crm-b' ? 'half_open' : 'closed'),
  }));
  await app.ready();
  await publicApp.ready();
});

afterAll(async () => {
  await app.close();
  await publicApp.close();
});

const get = (on: FastifyInstance, url: string, headers: Record<string, string> = {}) => on.inject({ method: 'GET', url, headers });
const asAdmin = { authorization: `Bearer ${TOKEN}` };

const operations = (doc: Doc): string[] =>
  Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`));

describe('OpenAPI document', () => {
  it('matches the committed openapi.json', async () => {
    const generated = formatOpenApiDocument(await generateOpenApiDocument());
    expect(
      generated === committedText,
      'openapi.json is out of date with the route schemas: run `npm run openapi` and commit openapi.json',
    ).toBe(true);
  });

  it('is served at /openapi.json, the same as the committed copy', async () => {
    const res = await get(app, '/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json(), 'the served document differs from openapi.json: run `npm run openapi`').toEqual(JSON.parse(committedText));
  });

  it('is OpenAPI 3.1 and lists every route of the contract, and only those', () => {
    const doc = JSON.parse(committedText) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    expect(operations(doc).sort()).toEqual([...CONTRACT_OPERATIONS].sort());
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.summary, `${method} ${path} has a summary`).toBeTruthy();
        expect(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} documents its success`).toBe(true);
      }
    }
  });

  it('documents ingest: body, key, Idempotency-Key, 202 and every contract error', () => {
    const doc = JSON.parse(committedText) as Doc & { components: { securitySchemes: Record<string, any> } };
    const op = doc.paths['/v1/leads']!.post as any;
    expect(op.requestBody.content['application/json'].schema.required).toEqual(['contact', 'service']);
    expect(op.parameters.map((p: any) => `${p.in}:${p.name}`)).toContain('header:idempotency-key');
    const schemes = op.security.flatMap((s: object) => Object.keys(s)).map((k: string) => doc.components.securitySchemes[k]);
    expect(schemes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }),
      ]),
    );
    expect(Object.keys(op.responses).sort()).toEqual(['202', '400', '401', '403', '409', '413', '415', '422', '429', '503']);
    for (const status of ['400', '401', '403', '409', '413', '415', '422', '429', '503']) {
      const schema = op.responses[status].content['application/json'].schema;
      expect(schema.required, status).toEqual(['error', 'message']);
      expect(Object.keys(schema.properties), status).toEqual(['error', 'message', 'details']);
    }
    expect(op.responses['503'].headers['Retry-After']).toBeDefined();
    expect(op.responses['202'].headers.Location).toBeDefined();
  });

  it('puts the admin routes behind the bearer scheme', () => {
    const doc = JSON.parse(committedText) as Doc & { components: { securitySchemes: Record<string, any> } };
    for (const op of CONTRACT_OPERATIONS.filter((o) => /\/v1\/(deliveries|destinations|leads\/)/.test(o))) {
      const [method, path] = op.split(' ') as [string, string];
      const security = doc.paths[path]![method]!.security as Array<Record<string, unknown>>;
      expect(security, op).toEqual([{ adminToken: [] }]);
    }
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

describe('the UI at /docs', () => {
  it('serves the page with a CSP that lets its own scripts run', async () => {
    const res = await get(app, '/docs/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toMatch(/upgrade-insecure-requests/);
    expect((await get(app, '/docs/static/swagger-ui-bundle.js')).statusCode).toBe(200);
    const json = await get(app, '/docs/json');
    expect(json.statusCode).toBe(200);
    expect(json.json().openapi).toBe('3.1.0');
  });

  it('keeps the API itself locked down', async () => {
    for (const listener of [app, publicApp]) {
      const res = await get(listener, '/health/live');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    }
  });
});

describe('response schemas keep every field (they also serialize)', () => {
  it('GET /v1/leads/:id: the whole admin view, duplicate_of and history included', async () => {
    const post = async () => {
      const res = await publicApp.inject({ method: 'POST', url: '/v1/leads', headers: { 'x-api-key': 'mp-key' }, payload: fullLead });
      expect(res.statusCode).toBe(202);
      return res;
    };
    await post();
    const id = (await post()).json().id as string;
    const [first] = await store.listDeliveriesOfLead(id);
    if (first === undefined) throw new Error('no delivery');
    await store.recordAttempt({
      attempt: {
        deliveryId: first.id,
        number: 1,
        startedAt: Date.now(),
        durationMs: 12.5,
        statusCode: 503,
        errorClass: 'http_status',
        error: 'http 503',
        responseBody: 'busy',
        outcome: 'retry',
      },
      status: 'pending',
      nextAttemptAt: Date.now() + 5000,
    });

    const res = await get(app, `/v1/leads/${id}`, asAdmin);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const expected = JSON.parse(JSON.stringify(await readLeadView(store, id)));
    expect(body).toEqual(expected);
    expect(body.duplicate_of).toEqual(expect.any(String));
    expect(body.deliveries[0].history).toHaveLength(1);
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining(['contact', 'consent', 'source', 'meta', 'deliveries', 'duplicate_of']),
    );
  });

  it('GET /v1/deliveries and GET /v1/destinations', async () => {
    const deliveries = await get(app, '/v1/deliveries?limit=2', asAdmin);
    expect(deliveries.statusCode).toBe(200);
    const page = await store.listDeliveries({ limit: 2 });
    expect(deliveries.json()).toEqual(
      JSON.parse(JSON.stringify({ items: page.items.map(deliveryView), next_cursor: page.nextCursor })),
    );

    const destinations = await get(app, '/v1/destinations', asAdmin);
    expect(destinations.statusCode).toBe(200);
    expect(destinations.json().items).toEqual([
      { id: 'crm-main', paused: false, circuit_breaker: 'closed', pending: expect.any(Number), dead: 0, max_in_flight: null, rate_limit: null },
      { id: 'crm-b', paused: false, circuit_breaker: 'half_open', pending: expect.any(Number), dead: 0, max_in_flight: 4, rate_limit: { per_second: 2.5 } },
    ]);
  });

  it('errors keep their details', async () => {
    const res = await publicApp.inject({
      method: 'POST',
      url: '/v1/leads',
      headers: { 'x-api-key': 'mp-key' },
      payload: { contact: {}, service: 'Bad Service', extra: 1 },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('validation_failed');
    expect(body.details.length).toBeGreaterThanOrEqual(3);
  });
});
