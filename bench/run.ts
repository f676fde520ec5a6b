import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { makeWorkspace } from '../test/helpers/leadgate-process.js';
import { API_KEY, e2eConfig } from '../test/helpers/e2e-config.js';
import { EXAMPLE_LEAD } from '../test/helpers/http-client.js';
import { openBackend, type BackendKind } from './backends.js';
import { REPO, autocannon, postArgs, rssMb, startCountingCrm } from './support.js';

/**
 * `npm run bench`: measures every backend pair on this machine and writes bench/results.json
 * and BENCHMARKS.md. Each leadgate runs as its own process, and so does autocannon.
 * BENCH_BACKENDS=sqlite limits the run; BENCH_SECONDS changes the load duration (default 10).
 */

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,bullmq+dynamodb,sqs+dynamodb').split(',') as BackendKind[];
const DRAIN_LIMIT_MS = 60_000;

interface BackendResult {
  backend: string;
  indicative: boolean;
  ingest: { connections: number; seconds: number; reqPerSec: number; p50Ms: number; p99Ms: number; maxMs: number; non2xx: number; errors: number; rssIdleMb: number; rssLoadedMb: number };
  worker: { backlog: number; delivered: number; seconds: number; deliveriesPerSec: number; rssLoadedMb: number };
}

async function measure(kind: BackendKind): Promise<BackendResult> {
  const crm = await startCountingCrm();
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['1s', '5s', '30s'] }]));
  const backend = await openBackend(kind, { LEADGATE_CONFIG: workspace.configPath, LOG_LEVEL: 'info' });
  try {
    // Ingest: the api alone, so the backlog it builds is then drained by one worker.
    const api = await backend.start('api');
    const rssIdleMb = rssMb(api.child.pid!);
    const args = postArgs(`${api.url}/v1/leads`, API_KEY, EXAMPLE_LEAD);
    const warm = await autocannon(['-c', '50', '-d', '2', ...args]);
    const run = await autocannon(['-c', '50', '-d', String(SECONDS), ...args]);
    const rssLoadedMb = rssMb(api.child.pid!);
    api.child.kill('SIGTERM');
    await api.exited;
    const backlog = warm.requests.total - warm.non2xx + run.requests.total - run.non2xx;

    // Worker: one process drains the backlog to a CRM that answers at once.
    const worker = await backend.start('worker', { LEADGATE_WORKER_CONCURRENCY: '64' });
    const started = Date.now();
    let workerRss = 0;
    const sampler = setInterval(() => (workerRss = Math.max(workerRss, rssMb(worker.child.pid!))), 500);
    await crm.waitFor(backlog, DRAIN_LIMIT_MS);
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    const delivered = crm.received();

    return {
      backend: backend.name,
      indicative: backend.indicative,
      ingest: {
        connections: 50,
        seconds: SECONDS,
        reqPerSec: Math.round(run.requests.average),
        p50Ms: run.latency.p50,
        p99Ms: run.latency.p99,
        maxMs: run.latency.max,
        non2xx: run.non2xx,
        errors: run.errors + run.timeouts,
        rssIdleMb,
        rssLoadedMb,
      },
      worker: { backlog, delivered, seconds: Math.round(seconds * 10) / 10, deliveriesPerSec: Math.round(delivered / seconds), rssLoadedMb: workerRss },
    };
  } finally {
    await backend.close();
    await crm.close();
    workspace.cleanup();
  }
}

const results: BackendResult[] = [];
for (const kind of BACKENDS) {
  console.log(`measuring ${kind}…`);
  const result = await measure(kind);
  console.log(JSON.stringify(result));
  results.push(result);
}

const machine = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  command: 'npm run bench',
};
mkdirSync(join(REPO, 'bench'), { recursive: true });
writeFileSync(join(REPO, 'bench/results.json'), `${JSON.stringify({ machine, results }, null, 2)}\n`);
writeFileSync(join(REPO, 'BENCHMARKS.md'), renderMarkdown(machine, results));
console.log('wrote bench/results.json and BENCHMARKS.md');

function renderMarkdown(m: typeof machine, rows: BackendResult[]): string {
  const ingest = rows.map(
    (r) =>
      `| ${r.backend}${r.indicative ? ' (indicative: emulator)' : ''} | ${r.ingest.reqPerSec.toLocaleString('en')} | ${r.ingest.p50Ms} ms | ${r.ingest.p99Ms} ms | ${r.ingest.maxMs} ms | ${r.ingest.non2xx} | ${r.ingest.rssIdleMb} / ${r.ingest.rssLoadedMb} MB |`,
  );
  const worker = rows.map(
    (r) =>
      `| ${r.backend}${r.indicative ? ' (indicative: emulator)' : ''} | ${r.worker.backlog.toLocaleString('en')} | ${r.worker.delivered.toLocaleString('en')} in ${r.worker.seconds} s | ${r.worker.deliveriesPerSec.toLocaleString('en')} | ${r.worker.rssLoadedMb} MB |`,
  );
  const analysis = readFileSync(join(REPO, 'bench/analysis.md'), 'utf8');
  return `# Benchmarks

Written by \`${m.command}\` on ${m.date}. Machine: ${m.cpus}, ${m.memoryGb} GiB; Node.js ${m.node}.
Raw figures: [bench/results.json](bench/results.json). Every leadgate is its own process, so is
autocannon; both share the same 2 cores. The emulators (dynalite, fauxqs) run inside the
benchmark process: figures on them say how leadgate behaves, not what AWS would give.

## Ingest: \`leadgate api\`, autocannon 50 connections, ${SECONDS} s, the contract's example lead

| backend | req/s | p50 | p99 | max | non-2xx | RSS idle / loaded |
| --- | --- | --- | --- | --- | --- | --- |
${ingest.join('\n')}

## One \`leadgate worker\` (concurrency 64) draining what the ingest run left, to a CRM answering at once

| backend | backlog | delivered | deliveries/s | RSS loaded |
| --- | --- | --- | --- | --- |
${worker.join('\n')}

${analysis}`;
}
