import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpDestinationClient } from '../../src/adapters/http/destination-client.js';
import { openSqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteJobQueue } from '../../src/adapters/sqlite/job-queue.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createErasureRunner } from '../../src/privacy/erasure-runner.js';
import { createWorker } from '../../src/worker/worker.js';
import { buildTestApps } from '../helpers/apps.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { startFakeCrm, type FakeCrm, type RecordedRequest } from '../helpers/crm-server.js';
import { testHasher } from '../helpers/privacy.js';

/**
 * Issue 15 end to end on the embedded store, in one process: three leads of one person on two
 * brands and two CRMs, an export, an erasure while one CRM is down, the `lead.erased` notices
 * (signed, retried until that CRM is back), and no byte of the person left in the SQLite files.
 */

const TOKEN = 'admin-token-for-tests-0123456789abcdef';
const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const SECRET_A = secret();
const SECRET_B = secret();

const EMAIL = 'camille.quintavalle@example.fr';
const LAST_NAME = 'Quintavalle';
/** Every way the phone could have been written down. */
const PHONE_FORMS = ['+33612345678', '0612345678', '06 12 34 56 78', '06.12.34.56.78', '612345678'];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Polls an async condition with a deadline: for states no event announces (a worker's progress). */
async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in time: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Harness {
  dir: string;
  store: SqliteLeadStore;
  publicApp: FastifyInstance;
  opsApp: FastifyInstance;
  crmA: FakeCrm;
  crmB: FakeCrm;
  logs: string[];
}

async function start(): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-privacy-'));
  const crmA = await startFakeCrm();
  const crmB = await startFakeCrm();
  const retry = { delaysMs: [100, 100, 200, 200, 300, 300, 500, 500, 500, 500, 500, 500, 500, 500] };
  const config: LeadgateConfig = {
    brands: [brand({ id: 'merciplus', apiKeys: ['mp-secret-key-0123456789abcdef'] }), brand({ id: 'babychou', apiKeys: ['bc-secret-key-0123456789abcdef'] })],
    destinations: [
      destination({ id: 'crm-a', url: crmA.url, signingSecrets: [SECRET_A], retry, timeoutMs: 2_000 }),
      destination({ id: 'crm-b', url: crmB.url, signingSecrets: [SECRET_B], retry, timeoutMs: 2_000 }),
    ],
    routes: [route({ brands: ['merciplus'], destinations: ['crm-a', 'crm-b'] }), route({ brands: ['babychou'], destinations: ['crm-b'] })],
  };
  const db = openSqliteDatabase(dir);
  const store = new SqliteLeadStore(db, { hasher: testHasher });
  await store.migrate();
  const queue = new SqliteJobQueue(db, { pollIntervalMs: 20 });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString('utf8')), done()) }));
  const metrics = createMetrics();
  const client = new HttpDestinationClient();
  const worker = createWorker({ config, store, queue, client, metrics, logger, concurrency: 8 });
  const erasures = createErasureRunner({ store, queue, logger, now: Date.now, batchSize: 2, intervalMs: 60_000 });
  const { publicApp, opsApp } = await buildTestApps({ config, store, queue, metrics, logger, adminToken: TOKEN, onErasureRequested: () => erasures.wake() });
  worker.start();
  cleanups.push(async () => {
    await erasures.stop();
    await worker.stop();
    await publicApp.close();
    await opsApp.close();
    await queue.close();
    await client.close();
    await store.close();
    await crmA.close();
    await crmB.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store, publicApp, opsApp, crmA, crmB, logs };
}

async function postLead(h: Harness, key: string, phone: string, service: string): Promise<string> {
  const res = await h.publicApp.inject({
    method: 'POST',
    url: '/v1/leads',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': 'brand-site/2.0' },
    payload: {
      contact: { first_name: 'Camille', last_name: LAST_NAME, email: 'Camille.Quintavalle@Example.fr', phone, postal_code: '75011' },
      service,
      consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté", text_version: 'v2' },
      source: { url: 'https://www.merci-plus.example/devis', form: 'devis' },
    },
  });
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string }>().id;
}

async function admin(h: Harness, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) {
  return h.opsApp.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, payload });
}

const isNotice = (req: RecordedRequest) => JSON.parse(req.body).type === 'lead.erased';

function verified(req: RecordedRequest, signingSecret: string): { type: string; data: Record<string, unknown> } {
  return new Webhook(signingSecret).verify(req.body, req.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
}

describe('privacy: export and erasure of a person on SQLite', () => {
  it('exports three leads on two brands, erases them everywhere, notifies both CRMs (one after it recovers), leaves no byte behind', async () => {
    const h = await start();
    const mp = 'mp-secret-key-0123456789abcdef';
    const bc = 'bc-secret-key-0123456789abcdef';
    const lead1 = await postLead(h, mp, '06 12 34 56 78', 'menage');
    const lead2 = await postLead(h, bc, '0612345678', 'garde-enfants');
    // Someone else, on the same brand and CRMs: untouched by the erasure.
    const stranger = await h.publicApp.inject({
      method: 'POST',
      url: '/v1/leads',
      headers: { authorization: `Bearer ${mp}`, 'content-type': 'application/json' },
      payload: { contact: { last_name: 'Durand', email: 'paul.durand@example.fr' }, service: 'menage' },
    });
    await h.crmA.waitForRequests(2);
    await h.crmB.waitForRequests(3);

    // The consent proof travels with the lead.
    const first = verified(h.crmA.requests[0]!, SECRET_A);
    expect(first.data.consent).toEqual({ contact: true, marketing: false, text: "J'accepte d'être recontacté", text_version: 'v2' });
    expect(first.data.proof).toMatchObject({ key_kind: 'secret', ip: expect.stringMatching(/\/24$|unknown/), user_agent: 'brand-site/2.0', source_url: 'https://www.merci-plus.example/devis', form: 'devis' });

    // crm-b goes down: the third lead is delivered to crm-a and stays pending (retrying) at crm-b.
    h.crmB.respondWith({ status: 503 });
    const lead3 = await postLead(h, mp, '+33 6 12 34 56 78', 'jardinage');
    await h.crmA.waitForRequests(3);
    await h.crmB.waitForRequests(1, { predicate: (r) => !isNotice(r) && JSON.parse(r.body).data.id === lead3 });

    // Export (by phone, written another way): the three leads, their deliveries and attempts.
    const exported = await admin(h, 'POST', '/v1/privacy/exports', { phone: '06.12.34.56.78' });
    expect(exported.statusCode, exported.body).toBe(200);
    const leads = exported.json<{ leads: Array<{ id: string; brand: string; contact: { email: string }; deliveries: Array<{ destination: string; history: unknown[] }> }> }>().leads;
    expect(leads.map((l) => l.id)).toEqual([lead1, lead2, lead3]);
    expect(leads.map((l) => l.brand)).toEqual(['merciplus', 'babychou', 'merciplus']);
    expect(leads[0]!.contact.email).toBe(EMAIL);
    expect(leads[0]!.deliveries.map((d) => d.destination).sort()).toEqual(['crm-a', 'crm-b']);
    expect(leads[0]!.deliveries.every((d) => d.history.length >= 1)).toBe(true);
    expect((await admin(h, 'POST', '/v1/privacy/exports', { email: 'CAMILLE.Quintavalle@example.fr', brand: 'babychou' })).json().leads).toHaveLength(1);
    expect((await admin(h, 'POST', '/v1/privacy/exports', { email: 'not an email' })).statusCode).toBe(400);
    expect((await h.opsApp.inject({ method: 'POST', url: '/v1/privacy/exports', payload: { email: EMAIL } })).statusCode).toBe(401);

    // Erasure, while crm-b is down.
    const accepted = await admin(h, 'POST', '/v1/privacy/erasures', { email: EMAIL });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const { id, status } = accepted.json<{ id: string; status: string }>();
    expect(status).toBe('pending');
    const done = await until(
      async () => (await admin(h, 'GET', `/v1/privacy/erasures/${id}`)).json<{ status: string; leads: number; notified: Array<{ destination: string; status: string }> }>(),
      (v) => v.status === 'done',
    );
    expect(done.leads).toBe(3);
    expect(done.notified.map((n) => n.destination)).toEqual(['crm-a', 'crm-b']);
    const erasedAt = Date.now();

    for (const leadId of [lead1, lead2, lead3]) {
      const view = (await admin(h, 'GET', `/v1/leads/${leadId}`)).json<Record<string, unknown> & { deliveries: Array<{ destination: string; kind: string; status: string }> }>();
      expect(Object.keys(view).sort()).toEqual(['brand', 'deliveries', 'erased_at', 'id', 'received_at', 'status']);
      expect(view.status).toBe('erased');
    }
    const third = (await admin(h, 'GET', `/v1/leads/${lead3}`)).json<{ deliveries: Array<{ destination: string; kind: string; status: string }> }>();
    expect(third.deliveries.find((d) => d.destination === 'crm-b' && d.kind === 'lead.created')?.status).toBe('cancelled');
    expect((await admin(h, 'POST', '/v1/privacy/exports', { email: EMAIL })).json().leads).toEqual([]);
    expect((await admin(h, 'GET', `/v1/leads/${stranger.json<{ id: string }>().id}`)).json().contact.last_name).toBe('Durand');

    // crm-a gets its notices now (lead1 and lead3); crm-b, down, is retried until it is back.
    const noticesA = await h.crmA.waitForRequests(2, { predicate: isNotice });
    h.crmB.respondWith({ status: 200 });
    const noticesB = await h.crmB.waitForRequests(3, { predicate: (r) => isNotice(r) && h.crmB.requestsById(r.headers['webhook-id'] as string).length >= 1 });
    const okB = await until(async () => (await admin(h, 'GET', `/v1/privacy/erasures/${id}`)).json<{ notified: Array<{ destination: string; status: string }> }>(), (v) =>
      v.notified.every((n) => n.status === 'delivered'),
    );
    expect(okB.notified).toEqual([
      { destination: 'crm-a', status: 'delivered', count: 2 },
      { destination: 'crm-b', status: 'delivered', count: 3 },
    ]);
    const dataOf = (reqs: RecordedRequest[], s: string): Array<Record<string, unknown>> => reqs.map((r) => verified(r, s)).map((b) => ({ type: b.type, ...b.data }));
    expect(dataOf(noticesA, SECRET_A).map((n) => n.id).sort()).toEqual([lead1, lead3].sort());
    expect(new Set(dataOf(h.crmB.requests.filter(isNotice), SECRET_B).map((n) => n.id))).toEqual(new Set([lead1, lead2, lead3]));
    for (const notice of dataOf(noticesB, SECRET_B)) {
      expect(Object.keys(notice).sort()).toEqual(['brand', 'erased_at', 'id', 'type']);
      expect(notice.type).toBe('lead.erased');
    }
    // The cancelled lead.created of lead3 was never sent to crm-b again once erased.
    const lateCreates = h.crmB.requests.filter((r) => !isNotice(r) && JSON.parse(r.body).data.id === lead3 && r.receivedAt > erasedAt);
    expect(lateCreates).toEqual([]);

    // Nothing of the person in the files: main database and WAL, every phone format, the name.
    const files = fs.readdirSync(h.dir).filter((f) => f.startsWith('leadgate.db'));
    expect(files).toContain('leadgate.db');
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(h.dir, f))));
    for (const needle of [EMAIL, 'Camille.Quintavalle@Example.fr', 'quintavalle', LAST_NAME, ...PHONE_FORMS]) {
      expect(bytes.includes(Buffer.from(needle, 'utf8')), `"${needle}" is still in the SQLite files`).toBe(false);
    }
    // ... while the stranger's data is still there (the check can fail).
    expect(bytes.includes(Buffer.from('paul.durand@example.fr'))).toBe(true);

    // Audit: one record per export and erasure step, keyed hash only; the logs hold no contact detail.
    const audit = await h.store.listPrivacyAudit(20);
    expect(audit.map((a) => a.action).sort()).toEqual(['erasure_done', 'erasure_requested', 'export', 'export', 'export'].sort());
    for (const entry of audit) expect(entry.identity).toMatch(/^[0-9a-f]{64}$/);
    const logText = h.logs.join('');
    expect(logText).toContain('"privacy audit"');
    for (const needle of [EMAIL, LAST_NAME, ...PHONE_FORMS.slice(0, 3)]) expect(logText.includes(needle), needle).toBe(false);
  });

  it('a CRM that echoes the request: nothing of the contact is kept in its attempts', async () => {
    const h = await start();
    h.crmA.respondWith((req) => ({ status: 400, body: req.body, headers: { 'content-type': 'application/json' } }));
    h.crmB.respondWith((req) => ({ status: 200, body: req.body }));
    const leadId = await postLead(h, 'mp-secret-key-0123456789abcdef', '06 12 34 56 78', 'menage');
    const deliveries = await until(() => h.store.listDeliveriesOfLead(leadId), (ds) => ds.length === 2 && ds.every((d) => d.status !== 'pending'));
    expect(deliveries.map((d) => [d.destination, d.status]).sort()).toEqual([['crm-a', 'dead'], ['crm-b', 'delivered']]);
    const attempts = (await Promise.all(deliveries.map((d) => h.store.listAttempts(d.id)))).flat();
    expect(attempts).toHaveLength(2);
    const dead = attempts.find((a) => a.statusCode === 400)!;
    expect(dead.responseBody).toContain('lead.created'); // the error is still readable...
    expect(attempts.find((a) => a.statusCode === 200)!.responseBody).toBeNull(); // ...a success keeps nothing
    const kept = JSON.stringify(attempts);
    for (const needle of [EMAIL, 'Camille', LAST_NAME, '75011', ...PHONE_FORMS]) expect(kept.includes(needle), `${needle} kept`).toBe(false);
  });

  it('refuses a lead without consent text when the brand requires it: 400 at /consent/text', async () => {
    const { buildTestPublicApp } = await import('../helpers/apps.js');
    const { MemoryStore } = await import('../helpers/memory-store.js');
    const { FakeQueue } = await import('../helpers/fake-queue.js');
    const config: LeadgateConfig = { brands: [brand({ id: 'merciplus', apiKeys: ['mp-secret-key-0123456789abcdef'], requireConsentText: true })], destinations: [], routes: [] };
    const app = await buildTestPublicApp({ config, store: new MemoryStore(), queue: new FakeQueue() });
    cleanups.push(() => app.close());
    const post = (consent: unknown) =>
      app.inject({
        method: 'POST',
        url: '/v1/leads',
        headers: { authorization: 'Bearer mp-secret-key-0123456789abcdef', 'content-type': 'application/json' },
        payload: { contact: { email: EMAIL }, service: 'menage', ...(consent === undefined ? {} : { consent }) },
      });
    for (const consent of [undefined, { contact: true }, { contact: true, text: '   ' }]) {
      const res = await post(consent);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'validation_failed', details: [{ path: '/consent/text' }] });
    }
    expect((await post({ contact: true, text: "J'accepte" })).statusCode).toBe(202);
  });
});
