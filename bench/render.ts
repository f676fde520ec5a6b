import type { BackendResult, HistoryEntry, LoadFigures, Results } from './types.js';

/** BENCHMARKS.md, rendered from bench/results.json and bench/history.json, then bench/analysis.md. */

const n = (value: number | null | undefined): string =>
  value === null || value === undefined || Number.isNaN(value) ? '–' : value.toLocaleString('en');
const ms = (value: number | null | undefined): string => `${n(value)} ms`;
/** Older results.json entries have no CPU figures. */
const us = (value: number | null | undefined): string => (value === null || value === undefined ? '–' : `${n(value)} µs`);
const label = (r: BackendResult): string => `${r.backend}${r.indicative ? ' *(indicative: emulator)*' : ''}`;
const lat = (f: LoadFigures): string => `${ms(f.p50Ms)} / ${ms(f.p99Ms)} / ${ms(f.maxMs)}`;
const failures = (f: LoadFigures): string => n(f.non2xx + f.errors + f.timeouts);

export function renderMarkdown(out: Results, history: HistoryEntry[], analysis: string): string {
  const { machine: m, results } = out;
  const emulated = results.filter((r) => r.indicative);
  const sections: string[] = [];

  sections.push(`# Benchmarks

Written by \`${out.command}\` on ${m.date} at commit \`${out.commit}\`${out.uncommittedSrcChanges ? ' (with uncommitted changes in src/)' : ''}.
Machine: ${m.cpus}, ${m.memoryGb} GiB; Node.js ${m.node}. Load average (1/5/15 min) at start
${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')}: anything else running on the 2 cores
shows in the figures. The run took ${n(out.wallSeconds)} s (the build before it not counted).
Raw figures: [bench/results.json](bench/results.json); before/after: [bench/history.json](bench/history.json).

How it measures: every leadgate is its own process, so is autocannon, so is the **ceiling**
(\`bench/ceiling-server.ts\`: a bare Fastify server validating the same body with the same schema
and answering 202 without persisting). The ceiling is measured in the same run, just before
leadgate, with the same autocannon settings. The loopback CRM (node:http, answers 200 at once)
and the end-to-end sender (undici Pool, keep-alive, open loop at a fixed rate) run in the
benchmark process.${emulated.length > 0 ? ` ${emulated.map((r) => r.backend).join('; ')}: **indicative only** — the emulators (DynamoDB Local, a JVM on the same machine; fauxqs, inside the benchmark process) share its cores, so figures on them say how leadgate behaves, not what AWS would give; their loads are shorter (${n(out.settings.emulatedSeconds)} s) and their rates lower, as labelled.` : ''}`);

  if (out.failures.length > 0) {
    sections.push(`## Failed measurements

${out.failures.map((f) => `- **${f.kind}**: \`${f.error.split('\n')[0]}\``).join('\n')}`);
  }

  if (out.targets.length > 0) {
    sections.push(`## Targets on the embedded default (sqlite), issue 7

| target | figure | |
| --- | --- | --- |
${out.targets.map((t) => `| ${t.label} | ${t.detail} | ${t.met ? '**met**' : '**not met**'} |`).join('\n')}`);
  }

  const i13 = out.issue13;
  if (i13) {
    const rf = (f: typeof i13.randomFailures) =>
      `| ${f.breaker} | ${f.schedule} | ${n(f.leads)} | ${n(f.deliveredWithin60s)} | ${f.allDeliveredS === null ? 'not all' : `${f.allDeliveredS} s`} | ${n(f.requests)} |`;
    sections.push(`## Issue 13: the whole job, and CRMs that half-fail

| goal | figure | |
| --- | --- | --- |
${i13.goals.map((g) => `| ${g.label} | ${g.figure} | ${g.met ? '**met**' : '**not met**'} |`).join('\n')}

*Whole job*: \`leadgate serve\` (embedded SQLite, worker concurrency ${n(out.settings.workerConcurrency)}) under autocannon
${i13.connections} connections for ${i13.seconds} s, to the loopback CRM; its rate is the leads the CRM received ÷ (last
receipt − start of the load). Ceiling: ${n(i13.ceiling.reqPerSec)} req/s just before. serve accepted ${n(i13.serve.accepted)}
(${n(i13.serve.ingest.reqPerSec)} req/s, p99 ${ms(i13.serve.ingest.p99Ms)}) and the CRM had ${n(i13.serve.delivered)} of them
${i13.serve.wholeJobS} s after the load began. Node-RED 4 (\`bench/node-red/flow.json\`: check the key and required
fields, POST to the CRM, 202 once it answered), same autocannon settings: ${i13.nodeRed ? `${n(i13.nodeRed.load.reqPerSec)} req/s, p99 ${ms(i13.nodeRed.load.p99Ms)}, ${n(i13.nodeRed.load.non2xx)} non-2xx` : 'not measured'}.

Half-failing CRMs, each on a fresh \`leadgate serve\`, 300 leads posted at once:

| 503 on half the requests: breaker | retry schedule | leads | delivered within 60 s | all delivered after | CRM requests |
| --- | --- | --- | --- | --- | --- |
${rf(i13.randomFailures)}
${i13.randomFailuresBefore ? rf(i13.randomFailuresBefore) : ''}

${i13.outage ? `CRM down for ${i13.outage.outageS} s (503), default schedule and breaker: ${n(i13.outage.requestsWhileDown)} requests while down, ${n(i13.outage.requestsAfterFirst10s)} of them after the first 10 s (most in any 5 s: ${i13.outage.maxPer5sAfterFirst10s}); the last lead delivered ${i13.outage.backlogDeliveredS ?? '–'} s after the CRM came back; ${i13.outage.dead} not delivered.` : 'CRM outage: not measured in this run.'}

429 with \`Retry-After: 2\` after every 20 accepted requests: ${n(i13.retryAfter.answered429)} 429s, ${i13.retryAfter.early} requests inside a pause (more than 100 ms after its first 429), ${n(i13.retryAfter.delivered)} of ${n(i13.retryAfter.leads)} delivered${i13.retryAfter.allDeliveredS !== null ? ` in ${i13.retryAfter.allDeliveredS} s` : ''}.`);
  }

  sections.push(`## Ingest throughput: \`leadgate api\` vs the ceiling, autocannon ${out.settings.connections} connections

After a ${out.settings.warmupSeconds} s warm-up of each. Latency p50 / p99 / max.

*CPU / request*: the process's CPU time (user + system, all threads, from /proc) during the
run ÷ the requests it answered. It depends much less than req/s on what else runs on the
machine (it still moves by ~25 % between runs here), so it is the figure to size instances
with (README, Capacity).

| backend | duration | leadgate req/s | ceiling req/s | ratio | leadgate latency | ceiling latency | CPU / request: leadgate (ceiling) | leadgate non-2xx / errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${results
  .map(
    (r) =>
      `| ${label(r)} | ${r.ingest.seconds} s | ${n(r.ingest.leadgate.reqPerSec)} | ${n(r.ingest.ceiling.reqPerSec)} | ${Math.round(r.ingest.ratio * 100)} % | ${lat(r.ingest.leadgate)} | ${lat(r.ingest.ceiling)} | ${us(r.ingest.leadgateCpuUsPerRequest)} (${us(r.ingest.ceilingCpuUsPerRequest)}) | ${failures(r.ingest.leadgate)} |`,
  )
  .join('\n')}`);

  sections.push(`## Latency at a fixed rate: autocannon \`-R\`, ${out.settings.connections} connections (coordinated omission corrected)

| backend | rate asked | duration | leadgate achieved | leadgate p50 / p99 / max | ceiling achieved | ceiling p50 / p99 / max | leadgate non-2xx / errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
${results
  .map(
    (r) =>
      `| ${label(r)} | ${n(r.fixedRate.rate)}/s${r.indicative ? ' *(lower: the emulated backend cannot sustain 2,000/s)*' : ''} | ${r.fixedRate.seconds} s | ${n(r.fixedRate.leadgate.reqPerSec)}/s | ${lat(r.fixedRate.leadgate)} | ${n(r.fixedRate.ceiling.reqPerSec)}/s | ${lat(r.fixedRate.ceiling)} | ${failures(r.fixedRate.leadgate)} |`,
  )
  .join('\n')}`);

  sections.push(`## One \`leadgate worker\` draining a backlog to a CRM answering at once

The backlog is built with no worker running, as during a CRM outage (the deliveries are pending
and due); then one worker starts. *Drain time* runs from its spawn to the CRM's receipt of the
last delivery (start-up included); *deliveries/s* is delivered ÷ (last receipt − first receipt).

*CRM alone* is the drain's ceiling: autocannon straight at the same loopback CRM, as many
connections as the worker's concurrency, 3 s, just before the drain.

| backend | backlog | built by | worker ready | delivered | drain time | deliveries/s (from spawn) | worker CPU / delivery | CRM alone | duplicates |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${results
  .map(
    (r) =>
      `| ${label(r)} | ${n(r.drain.backlog)} | ${r.drain.backlogSource} | ${r.drain.workerReadyS} s | ${n(r.drain.delivered)} | ${r.drain.complete ? `${r.drain.drainS} s` : `not drained in ${r.drain.limitS} s`} | ${n(r.drain.deliveriesPerSec)} (${n(r.drain.deliveriesPerSecFromSpawn)}) | ${us(r.drain.cpuUsPerDelivery)} | ${n(r.drain.crmCeiling.reqPerSec)} req/s | ${n(r.drain.requests - r.drain.delivered)} |`,
  )
  .join('\n')}

Worker concurrency: ${out.settings.workerConcurrency} (\`LEADGATE_WORKER_CONCURRENCY\`).${[...new Set(results.flatMap((r) => r.notes))].map((note) => `\n${note}`).join('')}`);

  sections.push(`## End to end: 202 received by the client → CRM receipt, at a steady rate

The benchmark process posts leads at a fixed rate (open loop; ${'1 s'} warm-up not counted),
records when each 202 arrives per lead id, and the CRM records when each \`data.id\` arrives;
percentiles are over leads. *Sent/s* is the rate the sender achieved in the measured window and
*sender lag* how late it fired against its schedule: together they show whether the sender
kept up. *Leads* counts the measured window only. *Loop p99* is the benchmark process's event-loop delay (it hosts the sender and the CRM${emulated.length > 0 ? ', and the emulators' : ''}).

| backend | processes | rate asked | duration | sent/s | sender lag p99 | loop p99 | leads | missing | 202 p50 / p99 (client) | **end to end p50 / p90 / p99 / max** |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${results
  .map((r) => {
    const e = r.endToEnd;
    return `| ${label(r)} | ${e.processes} | ${n(e.targetRate)}/s${r.indicative ? ' *(lower: emulated)*' : ''} | ${e.seconds} s | ${n(e.achievedSendRate)} | ${ms(e.senderLagP99Ms)} | ${ms(e.benchLoopDelayP99Ms)} | ${n(e.measuredLeads)} (${n(e.non202 + e.errors)} failed) | ${n(e.missing)} | ${ms(e.ingestP50Ms)} / ${ms(e.ingestP99Ms)} | **${n(e.p50Ms)} / ${n(e.p90Ms)} / ${n(e.p99Ms)} / ${n(e.maxMs)} ms** |`;
  })
  .join('\n')}`);

  sections.push(`## Memory (RSS, MB)

Idle: 0.5–1 s after start, nothing sent. Loaded: the highest of samples every 250 ms during the load named.

| backend | api idle | api loaded (ingest runs) | worker idle | worker loaded (drain) | end-to-end processes loaded | ceiling loaded |
| --- | --- | --- | --- | --- | --- | --- |
${results
  .map((r) => {
    const e2e =
      r.rss.serveLoadedMb !== undefined
        ? `serve ${n(r.rss.serveIdleMb)} idle, ${n(r.rss.serveLoadedMb)} loaded`
        : `api ${n(r.rss.e2eApiLoadedMb)}, worker ${n(r.rss.e2eWorkerLoadedMb)}`;
    return `| ${label(r)} | ${r.rss.apiIdleMb} | ${r.rss.apiLoadedMb} | ${r.rss.workerIdleMb} | ${r.rss.workerLoadedMb} | ${e2e} | ${r.rss.ceilingLoadedMb} |`;
  })
  .join('\n')}`);

  const rows = history.filter((h) => h.sqlite !== null).slice(-20);
  if (rows.length > 0) {
    sections.push(`## History (before / after): the embedded default's headline figures, one line per run

From [bench/history.json](bench/history.json), appended by every \`npm run bench\` (last 20 runs with sqlite).
A \`+\` after the commit means src/ had uncommitted changes; *load* is the 1-minute load average at start.

| date | commit | load | ingest req/s (ceiling) | ratio | p99 at 2,000/s | deliveries/s | end-to-end p99 | drain | RSS loaded max | targets met |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows
  .map((h) => {
    const s = h.sqlite!;
    return `| ${h.date.slice(0, 16).replace('T', ' ')} | \`${h.commit}\` | ${h.loadAverageAtStart} | ${n(s.ingestReqPerSec)} (${n(s.ceilingReqPerSec)}) | ${Math.round(s.ratio * 100)} % | ${ms(s.p99AtFixedRateMs)} | ${n(s.deliveriesPerSec)} | ${ms(s.e2eP99Ms)} | ${s.drainS === null ? 'incomplete' : `${s.drainS} s`} for ${n(s.backlog)} | ${s.rssLoadedMaxMb} MB | ${h.targetsMet} |`;
  })
  .join('\n')}`);
  }

  sections.push(analysis.trim());
  return `${sections.join('\n\n')}\n`;
}
