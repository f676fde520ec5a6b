import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CLI } from '../test/helpers/leadgate-process.js';

/** Pieces shared by the benchmarks: a loopback CRM, autocannon as its own process, RSS. */

export const REPO = join(CLI, '../..');

/** A CRM that answers 200 at once and counts what it got. */
export async function startCountingCrm() {
  let received = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      for (const w of waiters.filter((w) => received >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/leads`,
    received: () => received,
    /** Resolves once `count` requests arrived, or after `timeoutMs` (a bench reports what it got). */
    waitFor(count: number, timeoutMs: number): Promise<void> {
      if (received >= count) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon in its own process (so it does not share leadgate's or our event loop). */
export async function autocannon(args: string[]): Promise<AutocannonResult> {
  const child = spawn(process.execPath, [join(REPO, 'node_modules/autocannon/autocannon.js'), '--json', ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await once(child, 'exit');
  return JSON.parse(out) as AutocannonResult;
}

export function postArgs(url: string, apiKey: string, body: unknown): string[] {
  return ['-m', 'POST', '-H', 'content-type=application/json', '-H', `authorization=Bearer ${apiKey}`, '-b', JSON.stringify(body), url];
}

/** Resident memory of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}
