import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteDatabase } from '../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../src/adapters/sqlite/lead-store.js';
import type { AttemptResult } from '../src/domain/delivery.js';
import type { IngestCommand } from '../src/ports/lead-store.js';
import { newId } from '../src/domain/ids.js';
import { LEAD_EXAMPLE } from '../src/http/schemas/lead-example.js';

/**
 * `npm run bench:store`: CPU per ingest of the SQLite store alone (no HTTP), in batches of 25
 * concurrent ingests, about what one group commit takes under 50 connections; then CPU per
 * delivered attempt recorded (the worker's write), in the same batches. CPU time, not wall
 * time, so it barely depends on what else the machine is doing: the figures to compare two
 * versions of the write paths with.
 */

const BATCHES = Number(process.env.BENCH_STORE_BATCHES ?? 2000);
const BATCH_SIZE = 25;

const deliveryIds: string[] = [];

function command(): IngestCommand {
  const id = newId();
  return {
    lead: { id, brand: 'merciplus', received_at: new Date().toISOString(), status: 'routed', ...LEAD_EXAMPLE },
    deliveries: [{ id: deliveryId(), destination: 'crm-main' }],
  };
}

function deliveryId(): string {
  const id = newId();
  deliveryIds.push(id);
  return id;
}

function delivered(id: string): AttemptResult {
  const startedAt = Date.now() - 5;
  return {
    attempt: { deliveryId: id, number: 1, startedAt, durationMs: 5, statusCode: 200, errorClass: null, error: null, responseBody: null, outcome: 'delivered' },
    status: 'delivered',
    nextAttemptAt: null,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'leadgate-bench-store-'));
// Compiled to .tools-build/bench/: the repository's migrations are two levels up.
const migrationsDir = fileURLToPath(new URL('../../migrations/sqlite/', import.meta.url));
const store = new SqliteLeadStore(openSqliteDatabase(dir, { migrationsDir }));
try {
  await store.migrate();
  const batch = () => Promise.all(Array.from({ length: BATCH_SIZE }, () => store.ingest(command())));
  for (let i = 0; i < 200; i++) await batch(); // warm-up: JIT, page cache, WAL
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < BATCHES; i++) await batch();
  const cpu = process.cpuUsage(cpuBefore);
  const ingests = BATCHES * BATCH_SIZE;
  const perIngest = (micros: number) => (micros / ingests).toFixed(1);
  console.log(
    `${ingests} ingests in batches of ${BATCH_SIZE}: ${perIngest(cpu.user + cpu.system)} µs CPU per ingest ` +
      `(user ${perIngest(cpu.user)}, system ${perIngest(cpu.system)}), ${perIngest((performance.now() - started) * 1000)} µs wall`,
  );
  // The worker's side: every delivery above (the warm-up's first) recorded delivered, 25 per COMMIT.
  const warmIds = deliveryIds.splice(0, 200 * BATCH_SIZE);
  for (let i = 0; i < warmIds.length; i += BATCH_SIZE) await Promise.all(warmIds.slice(i, i + BATCH_SIZE).map((id) => store.recordAttempt(delivered(id))));
  const attemptCpu = process.cpuUsage();
  for (let i = 0; i < deliveryIds.length; i += BATCH_SIZE) {
    await Promise.all(deliveryIds.slice(i, i + BATCH_SIZE).map((id) => store.recordAttempt(delivered(id))));
  }
  const spent = process.cpuUsage(attemptCpu);
  console.log(`${deliveryIds.length} attempts recorded delivered in batches of ${BATCH_SIZE}: ${((spent.user + spent.system) / deliveryIds.length).toFixed(1)} µs CPU per attempt`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
