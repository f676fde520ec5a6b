import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_KEY, e2eConfig } from '../test/helpers/e2e-config.js';
import { EXAMPLE_LEAD, postLead, runConcurrently } from '../test/helpers/http-client.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../test/helpers/leadgate-process.js';
import { round, sleep } from './support.js';

/**
 * Issue 13's half-failure figures, each on a fresh `leadgate serve` (embedded SQLite) with 300
 * leads posted at once to a loopback CRM that misbehaves in one way. Timed on this process's
 * clock, which the CRM shares.
 */

export type CrmAnswer = { status: number; headers?: Record<string, string> };

/** A CRM whose answer is chosen per request; records arrivals and the first 2xx per lead. */
export async function scriptedCrm(answer: (at: number) => CrmAnswer) {
  const arrivals: Array<{ at: number; status: number }> = [];
  const deliveredAt = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const a = answer(at);
      arrivals.push({ at, status: a.status });
      if (a.status >= 200 && a.status < 300) {
        try {
          const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } }).data.id;
          if (!deliveredAt.has(id)) deliveredAt.set(id, at);
        } catch {
          // not a lead.created body
        }
      }
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.status < 300 ? '{"ok":true}' : '');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/leads`,
    arrivals,
    deliveredAt,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Crm = Awaited<ReturnType<typeof scriptedCrm>>;

async function withServe<T>(crm: Crm, destinationYaml: { delays: string[]; extra?: string[] }, run: (serve: LeadgateProcess) => Promise<T>): Promise<T> {
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, ...destinationYaml }]).replace('timeout_ms: 2000', 'timeout_ms: 5000'));
  const serve = await startLeadgate('serve', { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir, LOG_LEVEL: 'info' }, { keepLogs: false });
  try {
    return await run(serve);
  } finally {
    serve.child.kill('SIGKILL');
    await serve.exited;
    workspace.cleanup();
  }
}

async function post(serve: LeadgateProcess, n: number): Promise<{ ids: string[]; postedAt: number }> {
  const postedAt = performance.now();
  const results = await runConcurrently(n, 25, () => postLead(serve.url, API_KEY, EXAMPLE_LEAD));
  return { ids: results.filter((r) => r.status === 202).map((r) => r.body.id as string), postedAt };
}

async function until(check: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** A retry schedule under which a lead failing at random half the time is retried within a minute. */
export const SHORT_SCHEDULE = ['500ms', '1s', '1s', ...new Array<string>(17).fill('2s')];

export interface RandomFailureFigures {
  breaker: string;
  schedule: string;
  leads: number;
  deliveredWithin60s: number;
  allDeliveredS: number | null;
  requests: number;
}

/** 503 to half the requests at random: how many of 300 leads are delivered within 60 s. */
export async function randomFailures(breakerYaml: string | null, leads = 300): Promise<RandomFailureFigures> {
  const crm = await scriptedCrm(() => (Math.random() < 0.5 ? { status: 503 } : { status: 200 }));
  try {
    return await withServe(crm, { delays: SHORT_SCHEDULE, extra: breakerYaml ? [breakerYaml] : [] }, async (serve) => {
      const { ids, postedAt } = await post(serve, leads);
      const complete = await until(() => ids.every((id) => crm.deliveredAt.has(id)), 60_000 - (performance.now() - postedAt));
      const within = ids.filter((id) => (crm.deliveredAt.get(id) ?? Infinity) - postedAt <= 60_000).length;
      const last = Math.max(...ids.map((id) => crm.deliveredAt.get(id) ?? Infinity));
      return {
        breaker: breakerYaml ?? 'default (failure rate)',
        schedule: `${SHORT_SCHEDULE.length} delays, ${SHORT_SCHEDULE[0]} to ${SHORT_SCHEDULE.at(-1)}`,
        leads: ids.length,
        deliveredWithin60s: within,
        allDeliveredS: complete ? round((last - postedAt) / 1000, 1) : null,
        requests: crm.arrivals.length,
      };
    });
  } finally {
    await crm.close();
  }
}

export interface OutageFigures {
  outageS: number;
  leads: number;
  requestsWhileDown: number;
  /** Requests while down, after the first 10 s (the failures before the breaker opened). */
  requestsAfterFirst10s: number;
  /** The most requests in any 5 s span after those first 10 s. */
  maxPer5sAfterFirst10s: number;
  /** CRM back → the last lead delivered. */
  backlogDeliveredS: number | null;
  dead: number;
}

/** The CRM answers 503 for `outageS`, then 200: requests while it is down, and how soon the backlog follows. */
export async function outage(outageS: number, leads = 300): Promise<OutageFigures> {
  let downUntil = Infinity;
  const crm = await scriptedCrm((at) => (at < downUntil ? { status: 503 } : { status: 200 }));
  try {
    return await withServe(crm, { delays: ['5s', '5m', '30m', '2h', '5h', '10h', '10h'] }, async (serve) => {
      const startedAt = performance.now();
      downUntil = startedAt + outageS * 1000;
      const { ids } = await post(serve, leads);
      await sleep(Math.max(0, downUntil - performance.now()));
      const complete = await until(() => ids.every((id) => crm.deliveredAt.has(id)), 120_000);
      const down = crm.arrivals.filter((a) => a.at < downUntil).map((a) => a.at);
      const after10 = down.filter((at) => at >= startedAt + 10_000);
      let max5 = 0;
      for (let i = 0, j = 0; i < after10.length; i++) {
        while (after10[i]! - after10[j]! >= 5_000) j++;
        max5 = Math.max(max5, i - j + 1);
      }
      const last = Math.max(...ids.map((id) => crm.deliveredAt.get(id) ?? Infinity));
      return {
        outageS,
        leads: ids.length,
        requestsWhileDown: down.length,
        requestsAfterFirst10s: after10.length,
        maxPer5sAfterFirst10s: max5,
        backlogDeliveredS: complete ? round((last - downUntil) / 1000, 1) : null,
        dead: ids.length - crm.deliveredAt.size,
      };
    });
  } finally {
    await crm.close();
  }
}

export interface RetryAfterFigures {
  leads: number;
  delivered: number;
  answered429: number;
  /** Requests that arrived more than 100 ms after a 429 and before its Retry-After (2 s) ran out. */
  early: number;
  allDeliveredS: number | null;
}

/**
 * The CRM takes 20 requests, then answers 429 with Retry-After: 2 for the next 2 s, again and
 * again. Requests already in flight when the first 429 of a pause goes out arrive within
 * ~100 ms; any later one inside the 2 s did not honour it.
 */
export async function retryAfter(leads = 300): Promise<RetryAfterFigures> {
  let budget = 20;
  let pausedFrom = -Infinity;
  const crm = await scriptedCrm((at) => {
    if (at - pausedFrom < 2_000) return { status: 429, headers: { 'retry-after': '2' } };
    if (budget > 0) {
      budget -= 1;
      return { status: 200 };
    }
    pausedFrom = at;
    budget = 20;
    return { status: 429, headers: { 'retry-after': '2' } };
  });
  try {
    return await withServe(crm, { delays: ['5s', '5m', '30m', '2h', '5h', '10h', '10h'] }, async (serve) => {
      const { ids, postedAt } = await post(serve, leads);
      const complete = await until(() => ids.every((id) => crm.deliveredAt.has(id)), 120_000);
      // Pause starts: a 429 with no 429 in the 2 s before it.
      const starts: number[] = [];
      for (const a of crm.arrivals) if (a.status === 429 && (starts.length === 0 || a.at - starts.at(-1)! >= 2_000)) starts.push(a.at);
      const early = crm.arrivals.filter((a) => starts.some((s) => a.at > s + 100 && a.at < s + 1_980)).length;
      const last = Math.max(...ids.map((id) => crm.deliveredAt.get(id) ?? Infinity));
      return {
        leads: ids.length,
        delivered: ids.filter((id) => crm.deliveredAt.has(id)).length,
        answered429: crm.arrivals.filter((a) => a.status === 429).length,
        early,
        allDeliveredS: complete ? round((last - postedAt) / 1000, 1) : null,
      };
    });
  } finally {
    await crm.close();
  }
}
