import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import { leadFingerprints } from '../../src/domain/fingerprint.js';
import { createLeadAcceptor } from '../../src/ingest/accept-lead.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createRetentionPurger } from '../../src/privacy/retention-purger.js';
import { brand, config as makeConfig, destination, route } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { testHasher } from '../helpers/privacy.js';
import { attemptResult } from '../contract/fixtures.js';

const DAY = 86_400_000;
const silent = pino({ level: 'silent' });
const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-retention-'));
  dirs.push(dir);
  return dir;
}

const noCaptcha = { verify: () => Promise.reject(new Error('no captcha')), close: async () => {} };

describe('retention: the workers purge what outlived the brand\'s retention (SQLite)', () => {
  it('deletes old leads and everything attached, keeps recent ones, counts by kind in the metric', async () => {
    const clock = { now: Date.parse('2026-01-01T00:00:00.000Z') };
    const now = () => clock.now;
    const dir = tempDir();
    const store = new SqliteLeadStore(openSqliteDatabase(dir), { hasher: testHasher, now });
    await store.migrate();
    closers.push(() => store.close());
    const cfg = makeConfig({
      brands: [brand({ id: 'merciplus', retentionMs: 90 * DAY, duplicateWindowMs: 365 * DAY }), brand({ id: 'babychou', retentionMs: 3 * 365 * DAY })],
      destinations: [destination({ id: 'crm', url: 'http://127.0.0.1:9/leads' })],
      routes: [route({ destinations: ['crm'] })],
    });
    const metrics = createMetrics();
    const accept = createLeadAcceptor({ config: cfg, store, queue: new FakeQueue(), metrics, captcha: noCaptcha, hasher: testHasher, now });
    const post = async (brandId: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const result = await accept({
          brand: cfg.brands.find((b) => b.id === brandId)!,
          body: { contact: { email: `person${i}@example.fr`, phone: '+33612345678' }, service: 'menage' },
          idempotency: { key: `${brandId}-${clock.now}-${i}`, bodyHash: 'h' },
          client: { keyKind: 'secret', ip: '203.0.113.9', userAgent: null },
          log: silent,
        });
        if (result.kind !== 'created') throw new Error(result.kind);
        ids.push(result.leadId);
      }
      return ids;
    };
    const old = await post('merciplus', 7);
    const oldOther = await post('babychou', 2);
    // A dead delivery follows its lead's retention.
    const deadDelivery = (await store.listDeliveriesOfLead(old[0]!))[0]!;
    await store.recordAttempt(attemptResult(deadDelivery.id, 1, 'dead'));

    clock.now += 100 * DAY; // past merciplus's 90 days, within babychou's 3 years
    const recent = await post('merciplus', 2);

    const purger = createRetentionPurger({ config: cfg, store, metrics, logger: silent, now, batchSize: 3 });
    const counts = await purger.purge();
    expect(counts).toEqual({ leads: 7, deliveries: 7, attempts: 1, fingerprints: 14, identities: 14, idempotency: 7 });
    for (const id of old) expect(await store.getLead(id)).toBeNull();
    expect(await store.getDelivery(deadDelivery.id)).toBeNull();
    for (const id of [...oldOther, ...recent]) expect(await store.getLead(id)).not.toBeNull();
    // Recent leads still find their duplicates; the purged ones' fingerprints are gone.
    const [fingerprint] = leadFingerprints(testHasher, 'merciplus', { contact: { email: 'person0@example.fr' }, service: 'menage' });
    expect(await store.findDuplicate([fingerprint!], 0)).toBe(recent[0]);

    const metric = await metrics.registry.getSingleMetricAsString('leadgate_records_purged_total');
    expect(metric).toContain('leadgate_records_purged_total{kind="leads"} 7');
    expect(metric).toContain('leadgate_records_purged_total{kind="attempts"} 1');
    expect(metric).toContain('leadgate_records_purged_total{kind="identities"} 14');
    expect(await purger.purge()).toMatchObject({ leads: 0 });

    clock.now += 3 * 365 * DAY; // everything is past now
    expect(await purger.purge()).toMatchObject({ leads: 4 });
  });
});

describe('keyed hashes: migrating a database of the previous schema', () => {
  it('recomputes plain-sha256 fingerprints with the key, indexes every lead, and duplicates are still found', async () => {
    const dir = tempDir();
    // Schema 001-004 only, as the previous release left it, with its plain sha256 fingerprints.
    const oldMigrations = path.join(dir, 'old-migrations');
    fs.mkdirSync(oldMigrations);
    const migrationsDir = path.join(import.meta.dirname, '../../migrations/sqlite');
    for (const file of fs.readdirSync(migrationsDir).filter((f) => /^00[1-4]_/.test(f))) fs.copyFileSync(path.join(migrationsDir, file), path.join(oldMigrations, file));
    const dataDir = path.join(dir, 'data');
    const previous = openSqliteDatabase(dataDir, { migrationsDir: oldMigrations });
    previous.migrate();
    const T = Date.parse('2026-05-01T10:00:00.000Z');
    const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    const insertLead = previous.db.prepare('INSERT INTO leads (id, brand, status, received_at, data) VALUES (?, ?, ?, ?, ?)');
    const insertPrint = previous.db.prepare('INSERT INTO lead_fingerprints (fingerprint, received_at, lead_id, expires_at) VALUES (?, ?, ?, ?)');
    const insertDelivery = previous.db.prepare(
      `INSERT INTO deliveries (id, lead_id, destination, status, attempts, cycle_attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'crm', 'pending', 0, 0, ?, ?, ?)`,
    );
    // 2,500 leads: more than one rehash batch.
    const ids: string[] = [];
    previous.db.transaction(() => {
      for (let i = 0; i < 2_500; i++) {
        const id = `0190${String(i).padStart(8, '0')}-0000-7000-8000-000000000000`;
        ids.push(id);
        const email = `p${i}@example.fr`;
        const lead = { id, brand: 'merciplus', received_at: new Date(T + i).toISOString(), status: 'routed', contact: { email, phone: '+33612345678' }, service: 'menage' };
        insertLead.run(id, 'merciplus', 'routed', T + i, JSON.stringify(lead));
        insertDelivery.run(`d-${id}`, id, T + i, T + i, T + i);
        insertPrint.run(sha256(`merciplus|email|${email}|menage`), T + i, id, T + DAY);
        insertPrint.run(sha256(`merciplus|phone|+33612345678|menage`), T + i, id, T + DAY);
      }
    })();
    await previous.close();

    const store = new SqliteLeadStore(openSqliteDatabase(dataDir), { hasher: testHasher });
    closers.push(() => store.close());
    await store.migrate();
    await store.migrate(); // idempotent

    const [byEmail42] = leadFingerprints(testHasher, 'merciplus', { contact: { email: 'p42@example.fr' }, service: 'menage' });
    expect(await store.findDuplicate([byEmail42!], T)).toBe(ids[42]);
    expect(await store.findDuplicate([sha256('merciplus|email|p42@example.fr|menage')], T)).toBeNull();
    // The shared phone: the latest lead wins, as before.
    const [, byPhone] = leadFingerprints(testHasher, 'merciplus', { contact: { email: 'x@example.fr', phone: '+33612345678' }, service: 'menage' });
    expect(await store.findDuplicate([byPhone!], T)).toBe(ids[2_499]);
    const { identityHash } = await import('../../src/domain/fingerprint.js');
    expect((await store.findLeadsByIdentity([identityHash(testHasher, { kind: 'email', value: 'p7@example.fr' })])).map((l) => l.id)).toEqual([ids[7]]);
    expect(await store.findLeadsByIdentity([identityHash(testHasher, { kind: 'phone', value: '+33612345678' })])).toHaveLength(2_500);
    // Old deliveries survived the table rebuild as lead.created, pending.
    expect(await store.getDelivery(`d-${ids[0]}`)).toMatchObject({ status: 'pending', leadId: ids[0] });

    // And a new lead through the ingest use case is flagged a duplicate of the migrated one.
    const cfg = makeConfig({ brands: [brand({ id: 'merciplus', duplicateWindowMs: DAY })], destinations: [], routes: [] });
    const accept = createLeadAcceptor({ config: cfg, store, queue: new FakeQueue(), metrics: createMetrics(), captcha: noCaptcha, hasher: testHasher, now: () => T + 60_000 });
    const result = await accept({
      brand: cfg.brands[0]!,
      body: { contact: { email: 'P42@example.fr' }, service: 'menage' },
      idempotency: null,
      client: { keyKind: 'secret', ip: '203.0.113.9', userAgent: null },
      log: silent,
    });
    expect(result.kind).toBe('created');
    expect((await store.getLead((result as { leadId: string }).leadId)) as { duplicate_of?: string }).toMatchObject({ duplicate_of: ids[42] });
  });

  it('refuses to migrate stored leads without the privacy key, naming it', async () => {
    const dir = tempDir();
    const oldMigrations = path.join(dir, 'old');
    fs.mkdirSync(oldMigrations);
    const migrationsDir = path.join(import.meta.dirname, '../../migrations/sqlite');
    for (const file of fs.readdirSync(migrationsDir).filter((f) => /^00[1-4]_/.test(f))) fs.copyFileSync(path.join(migrationsDir, file), path.join(oldMigrations, file));
    const previous = openSqliteDatabase(path.join(dir, 'data'), { migrationsDir: oldMigrations });
    previous.migrate();
    previous.db.prepare('INSERT INTO leads (id, brand, status, received_at, data) VALUES (?, ?, ?, ?, ?)').run('l1', 'b', 'routed', 1, '{"id":"l1","brand":"b","contact":{"email":"a@b.fr"},"service":"s"}');
    await previous.close();
    const store = new SqliteLeadStore(openSqliteDatabase(path.join(dir, 'data')));
    closers.push(() => store.close());
    await expect(store.migrate()).rejects.toThrow(/LEADGATE_PRIVACY_KEY/);
  });
});
