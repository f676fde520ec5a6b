import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestPublicApp } from '../helpers/apps.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { AUTH, CONTRACT_CODES, JSON_CT, corpus, corpusConfig, send, sendCase, valid } from '../helpers/malformed-corpus.js';
import { MemoryStore } from '../helpers/memory-store.js';

let app: FastifyInstance;
let port: number;
const store = new MemoryStore();
const errors: string[] = [];

beforeAll(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  app = await buildTestPublicApp({ config: corpusConfig, store, queue: new FakeQueue(), metrics: createMetrics(), logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app.close();
});

describe('malformed requests', () => {
  it('has a corpus worth the name', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
  });

  it.each(corpus.map((c) => [c.name, c] as const))('%s → contract 4xx', async (_name, c) => {
    const { reply, body } = await sendCase(port, c);
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(CONTRACT_CODES.has(body.error as string), reply.body).toBe(true);
    expect(typeof body.message).toBe('string');
    expect({ status: reply.status, error: body.error }).toEqual({ status: c.status, error: c.error });
  });

  it('leaves the service healthy and nothing stored', async () => {
    expect((await send(port, { method: 'GET', path: '/health/live', headers: {} })).status).toBe(200);
    expect(store.leads.size).toBe(0);
    const ok = await send(port, { headers: { ...AUTH, ...JSON_CT }, body: JSON.stringify(valid) });
    expect(ok.status).toBe(202);
    expect(store.leads.size).toBe(1);
    expect(errors).toEqual([]);
  });
});
