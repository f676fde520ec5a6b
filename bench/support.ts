import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI } from '../test/helpers/leadgate-process.js';

/**
 * Pieces shared by the benchmarks: a loopback CRM, autocannon and the ceiling server as their
 * own processes, RSS sampling, percentiles.
 */

export const REPO = join(CLI, '../..');

/** Every child this module spawns, so the run can kill what is left on failure or Ctrl-C. */
const children = new Set<ChildProcess>();

export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * A CRM on loopback that answers 200 at once. It counts requests and distinct `webhook-id`s
 * (the drain) and, when `recordLeads` is on, the first receipt time (performance.now()) of
 * each `data.id` (the end-to-end latency).
 */
export async function startCrm() {
  let requests = 0;
  const webhookIds = new Set<string>();
  let firstAt = 0;
  let lastAt = 0;
  let recordLeads = false;
  const receivedAt = new Map<string, number>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    if (recordLeads) req.on('data', (chunk: Buffer) => chunks.push(chunk));
    else req.resume();
    req.on('end', () => {
      const now = performance.now();
      requests++;
      const webhookId = req.headers['webhook-id'];
      if (typeof webhookId === 'string') webhookIds.add(webhookId);
      if (firstAt === 0) firstAt = now;
      lastAt = now;
      if (recordLeads) {
        try {
          const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } }).data.id;
          if (!receivedAt.has(id)) receivedAt.set(id, now);
        } catch {
          // not a lead.created body: counted, not timed
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (waiters.length > 0) {
        for (const w of waiters.filter((w) => webhookIds.size >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/leads`,
    /** Distinct deliveries (webhook ids) received since the last reset. */
    delivered: () => webhookIds.size,
    requests: () => requests,
    firstAt: () => firstAt,
    lastAt: () => lastAt,
    receivedAt,
    /** Forget everything received; `leads` turns per-lead timing on or off. */
    reset(options: { leads: boolean }) {
      requests = 0;
      webhookIds.clear();
      receivedAt.clear();
      firstAt = 0;
      lastAt = 0;
      recordLeads = options.leads;
    },
    /** Resolves true once `count` distinct deliveries arrived, false after `timeoutMs` (a bench reports what it got). */
    waitFor(count: number, timeoutMs: number): Promise<boolean> {
      if (webhookIds.size >= count) return Promise.resolve(true);
      return new Promise((resolve) => {
        const waiter = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          resolve(false);
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type Crm = Awaited<ReturnType<typeof startCrm>>;

/** What we keep of autocannon's JSON report. */
export interface AutocannonResult {
  requests: { average: number; total: number; sent: number };
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  duration: number;
  /** ISO date when the load started. */
  start: string;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon in its own process (so it does not share leadgate's or our event loop). */
export async function autocannon(args: string[]): Promise<AutocannonResult> {
  const child = track(
    spawn(process.execPath, [join(REPO, 'node_modules/autocannon/autocannon.js'), '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await once(child, 'exit');
  try {
    return JSON.parse(out) as AutocannonResult;
  } catch {
    throw new Error(`autocannon ${args.join(' ')} gave no report: ${err.slice(-500)}`);
  }
}

export function postArgs(url: string, apiKey: string, body: unknown): string[] {
  return ['-m', 'POST', '-H', 'content-type=application/json', '-H', `authorization=Bearer ${apiKey}`, '-b', JSON.stringify(body), url];
}

/** The bare Fastify ceiling (bench/ceiling-server.ts, compiled next to this file), its own process. */
export async function startCeiling(): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const child = track(
    spawn(process.execPath, [join(REPO, '.tools-build/bench/ceiling-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (text) => {
      try {
        const line = JSON.parse(text) as { msg?: string; address?: { port: number } };
        if (line.msg === 'leadgate started' && line.address) resolve(line.address.port);
      } catch {
        // not JSON: ignore
      }
    });
    void exited.then(() => reject(new Error('the ceiling server exited before listening')));
  });
  lines.close();
  child.stdout!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resident memory of a process in MB (Linux /proc); 0 once it is gone. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 250 ms; stop() gives the highest seen. */
export function sampleRss(pid: number): { stop(): number } {
  let max = rssMb(pid);
  const timer = setInterval(() => (max = Math.max(max, rssMb(pid))), 250);
  return {
    stop() {
      clearInterval(timer);
      max = Math.max(max, rssMb(pid));
      return max;
    },
  };
}

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, every thread) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime: fields 14 and 15
  } catch {
    return 0;
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
