import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

/** The repository root: the nearest folder up with a package.json (this file also runs compiled, from .tools-build/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The built CLI: e2e tests drive leadgate exactly as ops do (npm test builds first). */
export const CLI = join(repoRoot(), 'dist/cli.js');

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface LeadgateProcess {
  child: ChildProcess;
  /** The public listener (ingest, health); '' for a worker. */
  url: string;
  /** The ops listener (metrics, admin API, docs, demo CRM); '' when turned off. */
  opsUrl: string;
  logs: LogLine[];
  stderr: string[];
  /** Resolves with the exit code (or the signal name) once the process ended. */
  exited: Promise<number | string>;
  /** Resolves with the first log line matching, waiting for it if needed. */
  waitForLog(predicate: (line: LogLine) => boolean): Promise<LogLine>;
}

/** A temp dir holding a config file and the data dir; removed by cleanup(). */
export function makeWorkspace(configYaml: string): { dir: string; configPath: string; dataDir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'leadgate-e2e-'));
  const configPath = join(dir, 'leadgate.yaml');
  writeFileSync(configPath, configYaml);
  return { dir, configPath, dataDir: join(dir, 'data'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Spawns `leadgate <command>` (words split on spaces: `serve --demo`) and resolves once it logs `leadgate started`. With
 * `keepLogs: false` (benchmarks) later lines are drained unread, so parsing them costs nothing.
 */
export async function startLeadgate(
  command: string,
  env: Record<string, string>,
  options: { keepLogs?: boolean } = {},
): Promise<LeadgateProcess> {
  // The ops listener has no "any free port" (0 turns it off): each process gets one found free.
  const opsPort = env.LEADGATE_OPS_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [CLI, ...command.split(' ')], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      LEADGATE_OPS_PORT: opsPort,
      // Shedding on event-loop lag is tested in process (test/integration/overload.test.ts); a
      // busy 2-core machine running several spawned processes must not turn a test's leads into 503s.
      LEADGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 30, msg: text };
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));

  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );

  const waitForLog = (predicate: (line: LogLine) => boolean) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      waiters.push({ predicate, resolve });
      void exited.then((code) =>
        reject(new Error(`leadgate exited (${code}) before the awaited log line; stderr: ${stderr.join('\n')}`)),
      );
    });
  };

  const started = await waitForLog((line) => line.msg === 'leadgate started');
  if (options.keepLogs === false) {
    lines.close();
    child.stdout!.resume();
  }
  const address = started.address as { port: number } | null;
  const opsAddress = started.opsAddress as { port: number } | null;
  return {
    child,
    url: address ? `http://127.0.0.1:${address.port}` : '',
    opsUrl: opsAddress ? `http://127.0.0.1:${opsAddress.port}` : '',
    logs,
    stderr,
    exited,
    waitForLog,
  };
}

/** Runs a one-shot CLI command and collects its output. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
