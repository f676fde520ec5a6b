import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { makeWorkspace, type LeadgateProcess } from '../test/helpers/leadgate-process.js';
import { API_KEY, e2eConfig } from '../test/helpers/e2e-config.js';
import { EXAMPLE_LEAD } from '../test/helpers/http-client.js';
import { openBackend, type Backend, type BackendKind } from './backends.js';
import { renderMarkdown } from './render.js';
import { runEndToEnd } from './sender.js';
import { measureIssue13 } from './whole-job.js';
import {
  REPO,
  autocannon,
  cpuSeconds,
  killChildren,
  postArgs,
  round,
  rssMb,
  sampleRss,
  sleep,
  startCeiling,
  startCrm,
  type AutocannonResult,
} from './support.js';
import {
  TARGETS,
  type BackendResult,
  type HistoryEntry,
  type Issue13Result,
  type LoadFigures,
  type Results,
  type TargetResult,
} from './types.js';

/**
 * `npm run bench`: every figure of issue 7 for each backend pair, each side by side with the
 * ceiling (bench/ceiling-server.ts) measured in the same run with the same autocannon settings.
 * Writes bench/results.json, appends bench/history.json and renders BENCHMARKS.md from them.
 *
 * Knobs: BENCH_BACKENDS (comma list of sqlite, bullmq+dynamodb, sqs+dynamodb), BENCH_SECONDS
 * (load duration on sqlite, default 10), BENCH_EMULATED_SECONDS (on the emulated backends,
 * default half of it, at least 3), BENCH_BACKLOG (sqlite drain backlog, default 100000),
 * BENCH_WORKER_CONCURRENCY (the measured worker's, default 128 as leadgate's own default);
 * issue 13's figures (bench/whole-job.ts) run first when sqlite is measured: BENCH_OUTAGE_S,
 * BENCH_SKIP_BEFORE, and BENCH_ONLY_ISSUE13=1 to measure nothing else (no files written then).
 */

const runStarted = performance.now();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const EMULATED_SECONDS = Number(process.env.BENCH_EMULATED_SECONDS ?? Math.max(3, Math.round(SECONDS / 2)));
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
/** The NODE_OPTIONS of the Dockerfile and .ebextensions/01-environment.config. */
const DEPLOYED_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=512';
const WORKER_CONCURRENCY = process.env.BENCH_WORKER_CONCURRENCY ?? '128';
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,bullmq+dynamodb,sqs+dynamodb').split(',').map((s) => s.trim()) as BackendKind[];
for (const kind of BACKENDS) {
  if (!['sqlite', 'bullmq+dynamodb', 'sqs+dynamodb'].includes(kind)) throw new Error(`BENCH_BACKENDS: unknown backend ${kind}`);
}
const CONNECTIONS = 50;
const WARMUP_SECONDS = 2;

/** What each backend is asked: the emulated ones cannot take the embedded default's rates. */
function planFor(kind: BackendKind) {
  return kind === 'sqlite'
    ? { seconds: SECONDS, fixedRate: 2000, e2eRate: 1000, backlog: BACKLOG, drainLimitS: 90, e2eSettleS: 10 }
    : { seconds: EMULATED_SECONDS, fixedRate: 200, e2eRate: 100, backlog: null, drainLimitS: 45, e2eSettleS: 15 };
}

/** Everything opened by the run, closed in `finally` and on SIGINT/SIGTERM. */
const openBackends = new Set<Backend>();
async function cleanup(): Promise<void> {
  for (const backend of openBackends) await backend.close().catch(() => {});
  openBackends.clear();
  killChildren();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping every process it started`);
    void cleanup().finally(() => process.exit(130));
  });
}

function figures(r: AutocannonResult): LoadFigures {
  return {
    reqPerSec: Math.round(r.requests.average),
    total: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    meanMs: round(r.latency.mean, 2),
    durationS: r.duration,
  };
}

/** SIGTERM (the graceful drain), SIGKILL if it takes more than 10 s. */
async function stop(p: LeadgateProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(timer);
}

function log(message: string): void {
  console.log(`[${round((performance.now() - runStarted) / 1000)} s] ${message}`);
}

async function measure(kind: BackendKind, ceiling: { url: string; pid: number }): Promise<BackendResult> {
  const plan = planFor(kind);
  const crm = await startCrm();
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['1s', '5s', '30s'] }]));
  // As deployed (Dockerfile, .ebextensions): info logs, and V8's smaller young generation.
  const env = { LEADGATE_CONFIG: workspace.configPath, LOG_LEVEL: 'info', NODE_OPTIONS: DEPLOYED_NODE_OPTIONS };
  const open = async () => {
    const backend = await openBackend(kind, env);
    openBackends.add(backend);
    return backend;
  };
  const workerEnv = { LEADGATE_WORKER_CONCURRENCY: WORKER_CONCURRENCY };
  const S = String(plan.seconds);
  try {
    // 1. Ingest: `leadgate api` alone at 50 connections, then at a fixed rate; the ceiling
    //    just before each, with the same autocannon settings.
    const ingestBackend = await open();
    const name = ingestBackend.name;
    log(`${name}: idle worker RSS`);
    const idleWorker = await ingestBackend.start('worker', workerEnv);
    await sleep(1000);
    const workerIdleMb = rssMb(idleWorker.child.pid!);
    await stop(idleWorker);

    const api = await ingestBackend.start('api');
    await sleep(500);
    const apiIdleMb = rssMb(api.child.pid!);
    const args = postArgs(`${api.url}/v1/leads`, API_KEY, EXAMPLE_LEAD);
    const ceilingArgs = postArgs(`${ceiling.url}/v1/leads`, API_KEY, EXAMPLE_LEAD);
    log(`${name}: warm-up (${WARMUP_SECONDS} s each)`);
    await autocannon(['-c', String(CONNECTIONS), '-d', String(WARMUP_SECONDS), ...ceilingArgs]);
    const warm = await autocannon(['-c', String(CONNECTIONS), '-d', String(WARMUP_SECONDS), ...args]);
    log(`${name}: throughput at ${CONNECTIONS} connections, ${S} s, ceiling then leadgate`);
    const ceilingSampler = sampleRss(ceiling.pid);
    const ceilingCpu = cpuSeconds(ceiling.pid);
    const ceilingMax = await autocannon(['-c', String(CONNECTIONS), '-d', S, ...ceilingArgs]);
    const ceilingCpuS = cpuSeconds(ceiling.pid) - ceilingCpu;
    const ceilingLoadedMb = ceilingSampler.stop();
    const apiSampler = sampleRss(api.child.pid!);
    const apiCpu = cpuSeconds(api.child.pid!);
    const apiMax = await autocannon(['-c', String(CONNECTIONS), '-d', S, ...args]);
    const apiCpuS = cpuSeconds(api.child.pid!) - apiCpu;
    log(`${name}: ${Math.round(apiMax.requests.average)} req/s (ceiling ${Math.round(ceilingMax.requests.average)})`);
    log(`${name}: latency at ${plan.fixedRate} req/s, ${S} s, ceiling then leadgate`);
    const ceilingFixed = await autocannon(['-c', String(CONNECTIONS), '-R', String(plan.fixedRate), '-d', S, ...ceilingArgs]);
    const apiFixed = await autocannon(['-c', String(CONNECTIONS), '-R', String(plan.fixedRate), '-d', S, ...args]);
    const apiLoadedMb = apiSampler.stop();
    log(`${name}: p99 ${apiFixed.latency.p99} ms at ${Math.round(apiFixed.requests.average)} req/s (ceiling ${ceilingFixed.latency.p99} ms)`);
    await stop(api);
    const ingestLeftover = warm['2xx'] + apiMax['2xx'] + apiFixed['2xx'];

    // 2. Drain: a backlog of pending deliveries and no worker (as during a CRM outage), then one
    //    worker; timed from its spawn to the CRM's receipt of the last delivery.
    let drainBackend = ingestBackend;
    let backlog = ingestLeftover;
    let backlogSource = `what the ingest runs left (${plan.seconds + plan.seconds + WARMUP_SECONDS} s of load), no worker running`;
    let build: LoadFigures | null = null;
    if (plan.backlog !== null) {
      drainBackend = await open();
      const builder = await drainBackend.start('api');
      // At most ~90 s of building, so a slow build (a busy machine) cannot push the run past 10 minutes.
      const amount = Math.min(plan.backlog, Math.max(1000, Math.round(apiMax.requests.average * 90 / 1000) * 1000));
      log(`${name}: building a backlog of ${amount} through leadgate api (autocannon -a), no worker`);
      build = figures(await autocannon(['-c', String(CONNECTIONS), '-a', String(amount), ...postArgs(`${builder.url}/v1/leads`, API_KEY, EXAMPLE_LEAD)]));
      await stop(builder);
      backlog = build.ok2xx;
      backlogSource = `${amount.toLocaleString('en')} leads posted through leadgate api (autocannon -c ${CONNECTIONS} -a ${amount}, ${build.durationS} s), no worker running${amount < plan.backlog ? ` (reduced from ${plan.backlog.toLocaleString('en')}: at the ingest rate measured above, building it would have taken over 90 s)` : ''}`;
    }
    // The drain's own ceiling: how many requests/s this loopback CRM takes from autocannon
    // (as many connections as the worker has deliveries in flight), so it is known not to be the limit.
    const crmCeiling = figures(
      await autocannon(['-c', WORKER_CONCURRENCY, '-d', '3', '-m', 'POST', '-H', 'content-type=application/json', '-b', JSON.stringify({ type: 'lead.created', data: EXAMPLE_LEAD }), crm.url]),
    );
    crm.reset({ leads: false });
    log(`${name}: one worker (concurrency ${WORKER_CONCURRENCY}) drains ${backlog} (the CRM alone takes ${crmCeiling.reqPerSec} req/s)`);
    const spawnedAt = performance.now();
    const worker = await drainBackend.start('worker', workerEnv);
    const readyS = (performance.now() - spawnedAt) / 1000;
    const workerSampler = sampleRss(worker.child.pid!);
    const complete = await crm.waitFor(backlog, plan.drainLimitS * 1000);
    const workerCpuS = cpuSeconds(worker.child.pid!); // start-up included (~0.3 s of CPU)
    const workerLoadedMb = workerSampler.stop();
    const delivered = crm.delivered();
    const endAt = complete ? crm.lastAt() : performance.now();
    const drainS = (endAt - spawnedAt) / 1000;
    const activeS = (crm.lastAt() - crm.firstAt()) / 1000;
    log(`${name}: ${delivered}/${backlog} in ${round(drainS)} s${complete ? '' : ' (limit reached)'}`);
    const drain = {
      backlog,
      backlogSource,
      build,
      crmCeiling,
      workerConcurrency: Number(WORKER_CONCURRENCY),
      workerReadyS: round(readyS, 2),
      delivered,
      requests: crm.requests(),
      complete,
      limitS: plan.drainLimitS,
      drainS: round(drainS, 2),
      deliveriesPerSec: activeS > 0 ? Math.round(delivered / activeS) : 0,
      deliveriesPerSecFromSpawn: Math.round(delivered / drainS),
      cpuUsPerDelivery: delivered > 0 ? Math.round((workerCpuS * 1e6) / delivered) : null,
    };

    // 3. End to end at a steady rate: `leadgate serve` (embedded) or `leadgate api` + the worker.
    const e2eBackend = plan.backlog !== null ? await open() : drainBackend;
    let e2eProcesses: string;
    let e2eUrl: string;
    let e2eIdleMb: number;
    const samplers: { label: string; sampler: { stop(): number } }[] = [];
    if (kind === 'sqlite') {
      await stop(worker);
      const serve = await e2eBackend.start('serve', workerEnv);
      await sleep(500);
      e2eIdleMb = rssMb(serve.child.pid!);
      samplers.push({ label: 'serve', sampler: sampleRss(serve.child.pid!) });
      e2eProcesses = `leadgate serve (worker concurrency ${WORKER_CONCURRENCY})`;
      e2eUrl = serve.url;
    } else {
      const e2eApi = await e2eBackend.start('api');
      await sleep(500);
      e2eIdleMb = rssMb(e2eApi.child.pid!);
      samplers.push({ label: 'api', sampler: sampleRss(e2eApi.child.pid!) });
      samplers.push({ label: 'worker', sampler: sampleRss(worker.child.pid!) });
      e2eProcesses = `leadgate api + the drain's leadgate worker (concurrency ${WORKER_CONCURRENCY})`;
      e2eUrl = e2eApi.url;
    }
    log(`${name}: end to end at ${plan.e2eRate} leads/s for ${S} s (${e2eProcesses})`);
    const e2e = await runEndToEnd({
      baseUrl: e2eUrl,
      apiKey: API_KEY,
      lead: EXAMPLE_LEAD,
      crm,
      rate: plan.e2eRate,
      warmupSeconds: 1,
      seconds: plan.seconds,
      settleTimeoutMs: plan.e2eSettleS * 1000,
    });
    const e2eLoaded = Object.fromEntries(samplers.map((s) => [s.label, s.sampler.stop()]));
    log(`${name}: end to end p50 ${e2e.p50Ms} ms, p99 ${e2e.p99Ms} ms, sent ${e2e.achievedSendRate}/s, missing ${e2e.missing}`);

    return {
      kind,
      backend: name,
      indicative: ingestBackend.indicative,
      plan: { ...plan, connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS },
      ingest: {
        seconds: plan.seconds,
        connections: CONNECTIONS,
        leadgate: figures(apiMax),
        ceiling: figures(ceilingMax),
        ratio: round(apiMax.requests.average / ceilingMax.requests.average, 3),
        leadgateCpuUsPerRequest: Math.round((apiCpuS * 1e6) / Math.max(1, apiMax.requests.total)),
        ceilingCpuUsPerRequest: Math.round((ceilingCpuS * 1e6) / Math.max(1, ceilingMax.requests.total)),
      },
      fixedRate: { rate: plan.fixedRate, seconds: plan.seconds, connections: CONNECTIONS, leadgate: figures(apiFixed), ceiling: figures(ceilingFixed) },
      drain,
      endToEnd: { processes: e2eProcesses, ...e2e },
      rss: {
        apiIdleMb,
        apiLoadedMb,
        workerIdleMb,
        workerLoadedMb,
        ...(kind === 'sqlite' ? { serveIdleMb: e2eIdleMb, serveLoadedMb: e2eLoaded.serve ?? 0 } : { e2eApiLoadedMb: e2eLoaded.api ?? 0, e2eWorkerLoadedMb: e2eLoaded.worker ?? 0 }),
        ceilingLoadedMb,
      },
      notes:
        plan.backlog === null
          ? [
              `Drain of ${(100_000).toLocaleString('en')} pending deliveries not run: at this emulator's few hundred deliveries/s it would take minutes; the drain of what the ingest runs left stands for it.`,
            ]
          : [],
    };
  } finally {
    await crm.close();
    for (const backend of openBackends) await backend.close().catch(() => {});
    openBackends.clear();
    workspace.cleanup();
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function evaluateTargets(sqlite: BackendResult | undefined): TargetResult[] {
  if (!sqlite) return [];
  const loaded = [
    ['api at 50 connections', sqlite.rss.apiLoadedMb],
    ['worker draining', sqlite.rss.workerLoadedMb],
    [`serve at ${sqlite.endToEnd.targetRate} leads/s`, sqlite.rss.serveLoadedMb ?? 0],
  ] as const;
  const worst = loaded.reduce((a, b) => (b[1] > a[1] ? b : a));
  const e2eTrusted = sqlite.endToEnd.missing === 0 && sqlite.endToEnd.achievedSendRate >= 0.98 * sqlite.endToEnd.targetRate;
  const figure = {
    ingestRatio: sqlite.ingest.ratio,
    p99AtFixedRate: sqlite.fixedRate.leadgate.p99Ms,
    deliveriesPerSec: sqlite.drain.deliveriesPerSec,
    e2eP99: sqlite.endToEnd.p99Ms,
    drainS: sqlite.drain.complete ? sqlite.drain.drainS : Number.POSITIVE_INFINITY,
    rssLoaded: worst[1],
  };
  return TARGETS.map((t) => {
    const value = figure[t.key];
    let met = t.direction === 'min' ? value >= t.threshold : value <= t.threshold;
    let detail = '';
    switch (t.key) {
      case 'ingestRatio':
        detail = `${sqlite.ingest.leadgate.reqPerSec.toLocaleString('en')} / ${sqlite.ingest.ceiling.reqPerSec.toLocaleString('en')} req/s = ${Math.round(value * 100)} %`;
        break;
      case 'p99AtFixedRate':
        detail = `p99 ${value} ms at ${sqlite.fixedRate.leadgate.reqPerSec.toLocaleString('en')} req/s achieved (ceiling p99 ${sqlite.fixedRate.ceiling.p99Ms} ms)`;
        if (sqlite.fixedRate.leadgate.reqPerSec < 0.98 * sqlite.fixedRate.rate || sqlite.fixedRate.leadgate.non2xx > 0) met = false;
        break;
      case 'deliveriesPerSec':
        detail = `${value.toLocaleString('en')} deliveries/s`;
        break;
      case 'e2eP99':
        detail = `p99 ${value} ms at ${sqlite.endToEnd.achievedSendRate.toLocaleString('en')} leads/s sent, ${sqlite.endToEnd.missing} missing`;
        if (!e2eTrusted) met = false;
        break;
      case 'drainS':
        detail = sqlite.drain.complete
          ? `${sqlite.drain.backlog.toLocaleString('en')} in ${sqlite.drain.drainS} s`
          : `${sqlite.drain.delivered.toLocaleString('en')} of ${sqlite.drain.backlog.toLocaleString('en')} after ${sqlite.drain.limitS} s`;
        if (sqlite.drain.backlog < 100_000) {
          met = false;
          detail += ' (a backlog under 100,000: the target is not measured as set)';
        }
        break;
      case 'rssLoaded':
        detail = `highest: ${worst[0]}, ${value} MB (${loaded.map(([label, mb]) => `${label} ${mb}`).join(', ')})`;
        break;
    }
    return { key: t.key, label: t.label, threshold: t.threshold, direction: t.direction, unit: t.unit, value: Number.isFinite(value) ? value : null, met, detail };
  });
}

// ---------------------------------------------------------------------------------------------

const startedAt = new Date();
const loadAtStart = loadavg().map((l) => round(l, 2));
const results: BackendResult[] = [];
const failures: { kind: BackendKind; error: string }[] = [];
let ceilingRef: Awaited<ReturnType<typeof startCeiling>> | null = null;
let issue13: Issue13Result | null = null;
try {
  ceilingRef = await startCeiling();
  if (BACKENDS.includes('sqlite')) {
    log('measuring issue 13 (whole job, Node-RED, half-failing CRMs)…');
    try {
      issue13 = await measureIssue13({
        ceilingUrl: ceilingRef.url,
        seconds: SECONDS,
        connections: CONNECTIONS,
        env: { LOG_LEVEL: 'info', NODE_OPTIONS: DEPLOYED_NODE_OPTIONS },
        workerEnv: { LEADGATE_WORKER_CONCURRENCY: WORKER_CONCURRENCY },
        figures,
        log,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`bench: issue 13 figures failed: ${message}`);
      failures.push({ kind: 'sqlite', error: `issue 13: ${message.slice(0, 2000)}` });
    }
  }
  if (process.env.BENCH_ONLY_ISSUE13 === '1') BACKENDS.length = 0;
  for (const kind of BACKENDS) {
    log(`measuring ${kind}…`);
    try {
      results.push(await measure(kind, ceilingRef));
    } catch (error) {
      // Reported in the output (and the exit code), and the other backends still measured.
      const message = error instanceof Error ? error.message : String(error);
      console.error(`bench: ${kind} failed: ${message}`);
      failures.push({ kind, error: message.slice(0, 2000) });
    }
  }
} finally {
  await ceilingRef?.close();
  await cleanup();
}

const commit = git(['rev-parse', '--short', 'HEAD']);
const dirty = git(['status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json']) !== '';
const output: Results = {
  machine: {
    date: startedAt.toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
  },
  command: `npm run bench${process.env.BENCH_BACKENDS ? ` (BENCH_BACKENDS=${process.env.BENCH_BACKENDS})` : ''}${process.env.BENCH_SECONDS ? ` (BENCH_SECONDS=${process.env.BENCH_SECONDS})` : ''}`,
  commit,
  uncommittedSrcChanges: dirty,
  settings: { seconds: SECONDS, emulatedSeconds: EMULATED_SECONDS, backlog: BACKLOG, workerConcurrency: Number(WORKER_CONCURRENCY), connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS },
  wallSeconds: round((performance.now() - runStarted) / 1000),
  targets: evaluateTargets(results.find((r) => r.kind === 'sqlite')),
  results,
  failures,
  issue13,
};

if (process.env.BENCH_ONLY_ISSUE13 === '1') {
  // A partial run: printed, never written over the full run's files.
  console.log(JSON.stringify(issue13, null, 2));
  for (const g of issue13?.goals ?? []) log(`${g.met ? 'met    ' : 'NOT MET'} ${g.label}: ${g.figure}`);
  process.exit(failures.length > 0 ? 1 : 0);
}

const historyPath = join(REPO, 'bench/history.json');
const history = existsSync(historyPath) ? (JSON.parse(readFileSync(historyPath, 'utf8')) as HistoryEntry[]) : [];
const sqlite = results.find((r) => r.kind === 'sqlite');
history.push({
  date: output.machine.date,
  commit: commit + (dirty ? '+' : ''),
  backends: BACKENDS.join(','),
  seconds: SECONDS,
  loadAverageAtStart: loadAtStart[0] ?? 0,
  sqlite: sqlite
    ? {
        ingestReqPerSec: sqlite.ingest.leadgate.reqPerSec,
        ceilingReqPerSec: sqlite.ingest.ceiling.reqPerSec,
        ratio: sqlite.ingest.ratio,
        p99AtFixedRateMs: sqlite.fixedRate.leadgate.p99Ms,
        deliveriesPerSec: sqlite.drain.deliveriesPerSec,
        e2eP99Ms: sqlite.endToEnd.p99Ms,
        drainS: sqlite.drain.complete ? sqlite.drain.drainS : null,
        backlog: sqlite.drain.backlog,
        rssLoadedMaxMb: Math.max(sqlite.rss.apiLoadedMb, sqlite.rss.workerLoadedMb, sqlite.rss.serveLoadedMb ?? 0),
      }
    : null,
  targetsMet: `${output.targets.filter((t) => t.met).length}/${output.targets.length}`,
});

mkdirSync(join(REPO, 'bench'), { recursive: true });
writeFileSync(join(REPO, 'bench/results.json'), `${JSON.stringify(output, null, 2)}\n`);
writeFileSync(historyPath, `${JSON.stringify(history, null, 2)}\n`);
writeFileSync(join(REPO, 'BENCHMARKS.md'), renderMarkdown(output, history, readFileSync(join(REPO, 'bench/analysis.md'), 'utf8')));
log(`wrote bench/results.json, bench/history.json and BENCHMARKS.md (${output.wallSeconds} s)`);
for (const t of output.targets) log(`${t.met ? 'met    ' : 'NOT MET'} ${t.label}: ${t.detail}`);
for (const g of issue13?.goals ?? []) log(`${g.met ? 'met    ' : 'NOT MET'} ${g.label}: ${g.figure}`);
if (failures.length > 0) process.exitCode = 1;
