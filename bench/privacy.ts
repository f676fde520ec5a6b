import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openSqliteDatabase } from '../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../src/adapters/sqlite/lead-store.js';
import { createPrivacyHasher, identityHash, leadIdentities } from '../src/domain/fingerprint.js';
import { newId } from '../src/domain/ids.js';
import { createMetrics } from '../src/observability/metrics.js';
import type { JobQueue } from '../src/ports/job-queue.js';
import { runErasure } from '../src/privacy/erasure-runner.js';
import { createRetentionPurger } from '../src/privacy/retention-purger.js';
import { brand, config as makeConfig } from '../test/helpers/config-factories.js';

/**
 * `npm run bench:privacy`: on SQLite, the time and peak RSS of erasing one person among
 * BENCH_PRIVACY_LEADS stored leads (default 1,000,000), and the cost of the retention purge per
 * 100,000 expired leads. Each measurement runs in a fresh process (its own peak RSS). Seeding
 * writes rows with SQL directly (what ingest stores: lead JSON, one delivery, identity rows).
 */

const LEADS = Number(process.env.BENCH_PRIVACY_LEADS ?? 1_000_000);
const EXPIRED = Number(process.env.BENCH_PRIVACY_EXPIRED ?? 100_000);
const PERSON_LEADS = 3;
const KEY = 'bench-privacy-key-0123456789abcdef0123';
const hasher = createPrivacyHasher(KEY);
const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const migrationsDir = fileURLToPath(new URL('../../migrations/sqlite/', import.meta.url));
const silent = pino({ level: 'silent' });
const noQueue = { enqueue: async () => {} } as unknown as JobQueue;

function open(dir: string): SqliteLeadStore {
  return new SqliteLeadStore(openSqliteDatabase(dir, { migrationsDir }), { hasher, now: () => NOW });
}

async function seed(dir: string): Promise<void> {
  const store = open(dir);
  await store.migrate();
  await store.close();
  const db = openSqliteDatabase(dir, { migrationsDir }).db;
  const lead = db.prepare('INSERT INTO leads (id, brand, status, received_at, data) VALUES (?, ?, ?, ?, ?)');
  const delivery = db.prepare(
    `INSERT INTO deliveries (id, lead_id, destination, status, attempts, cycle_attempts, delivered_at, created_at, updated_at)
     VALUES (?, ?, 'crm-main', 'delivered', 1, 1, ?, ?, ?)`,
  );
  const identity = db.prepare('INSERT INTO lead_identities (identity, lead_id, brand) VALUES (?, ?, ?)');
  const started = performance.now();
  const BATCH = 20_000;
  for (let done = 0; done < LEADS; done += BATCH) {
    db.transaction(() => {
      for (let i = done; i < Math.min(LEADS, done + BATCH); i++) {
        const person = i < PERSON_LEADS ? 'the.person' : `p${i}`;
        const contact = { first_name: 'Camille', last_name: `Name${i}`, email: `${person}@example.fr`, phone: `+336${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}` };
        // The first EXPIRED leads (after the person's) are old enough for the purge.
        const receivedAt = i >= PERSON_LEADS && i < PERSON_LEADS + EXPIRED ? NOW - 4 * 365 * DAY + i : NOW - DAY + (i % 1000);
        const id = newId();
        const data = { id, brand: 'merciplus', received_at: new Date(receivedAt).toISOString(), status: 'routed', contact, service: 'menage', message: 'Devis pour 3 h de ménage par semaine' };
        lead.run(id, 'merciplus', 'routed', receivedAt, JSON.stringify(data));
        delivery.run(newId(), id, receivedAt, receivedAt, receivedAt);
        for (const h of leadIdentities(hasher, data)) identity.run(h, id, 'merciplus');
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.error(`seeded ${LEADS} leads in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function measureErase(dir: string): Promise<Record<string, unknown>> {
  const store = open(dir);
  const id = newId();
  const started = performance.now();
  await store.createErasure({ id, identities: [identityHash(hasher, { kind: 'email', value: 'the.person@example.fr' })], brand: null, requestedAt: NOW });
  await runErasure({ store, queue: noQueue, logger: silent, now: () => NOW, batchSize: 100 }, (await store.getErasure(id))!);
  const ms = performance.now() - started;
  const erasure = await store.getErasure(id);
  await store.close();
  return { erased: erasure?.leads, ms: Math.round(ms * 10) / 10, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

async function measurePurge(dir: string): Promise<Record<string, unknown>> {
  const store = open(dir);
  const metrics = createMetrics();
  const purger = createRetentionPurger({ config: makeConfig({ brands: [brand({ id: 'merciplus' })] }), store, metrics, logger: silent, now: () => NOW });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const counts = await purger.purge();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await store.close();
  const per100k = (value: number) => Math.round((value * 100_000) / Math.max(1, counts?.leads ?? 0));
  return { counts, ms: Math.round(ms), msPer100k: per100k(ms), cpuMsPer100k: per100k((used.user + used.system) / 1000), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

const [mode, dirArg] = process.argv.slice(2);
if (mode === 'erase') console.log(JSON.stringify(await measureErase(dirArg!)));
else if (mode === 'purge') console.log(JSON.stringify(await measurePurge(dirArg!)));
else {
  const dir = mkdtempSync(join(tmpdir(), 'leadgate-bench-privacy-'));
  try {
    await seed(dir);
    const sizeMb = Math.round(statSync(join(dir, 'leadgate.db')).size / 1024 / 1024);
    const self = fileURLToPath(import.meta.url);
    const run = (m: string) => JSON.parse(execFileSync(process.execPath, [self, m, dir], { encoding: 'utf8' })) as Record<string, unknown>;
    const erase = run('erase');
    const purge = run('purge');
    console.log(JSON.stringify({ leads: LEADS, dbSizeMb: sizeMb, eraseOnePerson: erase, retentionPurge: purge }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
