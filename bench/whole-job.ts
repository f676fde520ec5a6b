import { API_KEY, e2eConfig } from '../test/helpers/e2e-config.js';
import { EXAMPLE_LEAD } from '../test/helpers/http-client.js';
import { makeWorkspace } from '../test/helpers/leadgate-process.js';
import { openBackend } from './backends.js';
import { outage, randomFailures, retryAfter } from './half-failures.js';
import { startNodeRed } from './node-red.js';
import { autocannon, postArgs, round, sleep, startCrm, type AutocannonResult } from './support.js';
import type { Issue13Result, LoadFigures } from './types.js';

/**
 * Issue 13's figures: the whole job of `leadgate serve` (ingest + delivery to a loopback CRM,
 * autocannon at 50 connections) beside the bare-Fastify ceiling and Node-RED 4 doing the same
 * job, measured one after the other in this run; then the half-failure scenarios.
 * Knobs: BENCH_OUTAGE_S (CRM down, default 300; 0 skips it), BENCH_SKIP_BEFORE=1 skips the
 * old-breaker baseline.
 */
export async function measureIssue13(options: {
  ceilingUrl: string;
  seconds: number;
  connections: number;
  env: Record<string, string>;
  workerEnv: Record<string, string>;
  figures: (r: AutocannonResult) => LoadFigures;
  log: (message: string) => void;
}): Promise<Issue13Result> {
  const { seconds, connections, figures, log } = options;
  const S = String(seconds);
  const C = String(connections);
  const crm = await startCrm();
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['1s', '5s', '30s'] }]));
  const backend = await openBackend('sqlite', { ...options.env, LEADGATE_CONFIG: workspace.configPath });
  try {
    const ceilingArgs = postArgs(`${options.ceilingUrl}/v1/leads`, API_KEY, EXAMPLE_LEAD);
    await autocannon(['-c', C, '-d', '2', ...ceilingArgs]);
    log(`issue 13: ceiling, ${S} s`);
    const ceiling = figures(await autocannon(['-c', C, '-d', S, ...ceilingArgs]));

    const serve = await backend.start('serve', options.workerEnv);
    const serveArgs = postArgs(`${serve.url}/v1/leads`, API_KEY, EXAMPLE_LEAD);
    crm.reset({ leads: false });
    const warm = await autocannon(['-c', C, '-d', '2', ...serveArgs]);
    await crm.waitFor(warm['2xx'], 30_000);
    crm.reset({ leads: false });
    log(`issue 13: leadgate serve whole job, ${S} s`);
    const load = await autocannon(['-c', C, '-d', S, ...serveArgs]);
    const accepted = load['2xx'];
    await crm.waitFor(accepted, 60_000);
    const delivered = crm.delivered();
    const wholeJobS = (performance.timeOrigin + crm.lastAt() - Date.parse(load.start)) / 1000;
    const wholeJobPerSec = Math.round(delivered / Math.max(wholeJobS, load.duration));
    serve.child.kill('SIGTERM');
    await serve.exited;
    log(`issue 13: serve ${accepted} accepted, ${delivered} delivered in ${round(wholeJobS)} s = ${wholeJobPerSec}/s (ceiling ${ceiling.reqPerSec} req/s)`);

    let nodeRed: Issue13Result['nodeRed'] = null;
    try {
      const red = await startNodeRed(crm.url, API_KEY);
      try {
        const redArgs = postArgs(`${red.url}/v1/leads`, API_KEY, EXAMPLE_LEAD);
        await autocannon(['-c', C, '-d', '2', ...redArgs]);
        await sleep(200);
        crm.reset({ leads: false });
        log(`issue 13: Node-RED whole job, ${S} s`);
        const redLoad = figures(await autocannon(['-c', C, '-d', S, ...redArgs]));
        nodeRed = { load: redLoad, delivered: crm.delivered() };
        log(`issue 13: Node-RED ${redLoad.reqPerSec} req/s (${redLoad.non2xx} non-2xx)`);
      } finally {
        await red.close();
      }
    } catch (error) {
      log(`issue 13: Node-RED not measured: ${error instanceof Error ? error.message : String(error)}`);
    }

    log('issue 13: 503 on half the requests, 300 leads (default breaker)');
    const random = await randomFailures(null);
    log(`issue 13: ${random.deliveredWithin60s}/${random.leads} within 60 s`);
    let before: Issue13Result['randomFailuresBefore'] = null;
    if (process.env.BENCH_SKIP_BEFORE !== '1') {
      log('issue 13: the same with the breaker as before (5 failures in a row, 30 s)');
      before = await randomFailures('circuit_breaker: { failures: 5, half_open_after: 30s }');
      log(`issue 13: before: ${before.deliveredWithin60s}/${before.leads} within 60 s`);
    }
    const outageS = Number(process.env.BENCH_OUTAGE_S ?? 300);
    let down: Issue13Result['outage'] = null;
    if (outageS > 0) {
      log(`issue 13: CRM down ${outageS} s, then back`);
      down = await outage(outageS);
      log(`issue 13: ${down.requestsAfterFirst10s} requests after the first 10 s while down, backlog ${down.backlogDeliveredS} s after return`);
    }
    log('issue 13: 429 + Retry-After: 2');
    const ra = await retryAfter();
    log(`issue 13: ${ra.early} early requests, ${ra.delivered}/${ra.leads} delivered`);

    const wholeJobRatio = round(wholeJobPerSec / ceiling.reqPerSec, 3);
    const vsNodeRed = nodeRed ? round(wholeJobPerSec / Math.max(1, nodeRed.load.reqPerSec), 2) : null;
    const goals: Issue13Result['goals'] = [
      { label: '`leadgate serve` whole job ≥ 0.25 of the ceiling', figure: `${wholeJobPerSec.toLocaleString('en')} / ${ceiling.reqPerSec.toLocaleString('en')} = ${wholeJobRatio}`, met: wholeJobRatio >= 0.25 },
      {
        label: 'whole job ≥ 3 × Node-RED 4 (validate → POST → 202)',
        figure: nodeRed ? `${wholeJobPerSec.toLocaleString('en')} / ${nodeRed.load.reqPerSec.toLocaleString('en')} = ${vsNodeRed} ×` : 'not measured',
        met: vsNodeRed !== null && vsNodeRed >= 3,
      },
      {
        label: '503 on 50 % at random: 300 of 300 delivered within 60 s',
        figure: `${random.deliveredWithin60s} of ${random.leads}${random.allDeliveredS !== null ? ` (all in ${random.allDeliveredS} s)` : ''}${before ? `; before: ${before.deliveredWithin60s}` : ''}`,
        met: random.deliveredWithin60s === 300,
      },
      {
        label: 'CRM down, then back: ≤ ~1 request / 5 s while down; backlog within 30 s of return',
        figure: down
          ? `down ${down.outageS} s: ${down.requestsAfterFirst10s} requests after the first 10 s (most in 5 s: ${down.maxPer5sAfterFirst10s}); backlog ${down.backlogDeliveredS ?? 'not all'} s after return`
          : 'not measured (BENCH_OUTAGE_S=0)',
        met: down !== null && down.maxPer5sAfterFirst10s <= 2 && down.backlogDeliveredS !== null && down.backlogDeliveredS <= 30,
      },
      {
        label: '429 + Retry-After: 2: no request before the 2 s, no lead lost',
        figure: `${ra.early} early requests, ${ra.delivered} of ${ra.leads} delivered, ${ra.answered429} 429s`,
        met: ra.early === 0 && ra.delivered === ra.leads,
      },
    ];
    return {
      seconds,
      connections,
      ceiling,
      serve: { accepted, delivered, wholeJobS: round(wholeJobS, 2), wholeJobPerSec, ingest: figures(load) },
      wholeJobRatio,
      nodeRed,
      vsNodeRed,
      randomFailures: random,
      randomFailuresBefore: before,
      outage: down,
      retryAfter: ra,
      goals,
    };
  } finally {
    await crm.close();
    await backend.close();
    workspace.cleanup();
  }
}
