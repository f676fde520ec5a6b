import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { exited, trackChild } from './child-processes.js';
import { freePort } from './free-port.js';
import os from 'node:os';
import path from 'node:path';

/**
 * A private `redis-server` for one test file: a free loopback port, its own temp dir, AOF with
 * fsync on every write (so a kill -9 loses nothing that was acknowledged, and restart() finds the
 * data again). Never the machine's Redis on 6379. Call close() in afterAll; a process 'exit' hook
 * SIGKILLs any server still running, so a failed or aborted test file leaves none behind.
 */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Working dir holding the AOF files; kept across stop/kill/restart, removed by close(). */
  readonly dir: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** Graceful shutdown (SIGTERM, Redis flushes the AOF); restart() may follow. */
  stop(): Promise<void>;
  /** SIGKILL, as a crashed host would; restart() may follow. */
  kill(): Promise<void>;
  /** Stops it if running, then starts it again on the same port and dir; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops it and removes its dir. Idempotent. */
  close(): Promise<void>;
}

export interface RedisServerOptions {
  /** Longest wait for "Ready to accept connections" (AOF loading included). */
  startTimeoutMs?: number;
  /** Longest wait for a SIGTERM'd server to exit before it is SIGKILLed. */
  stopTimeoutMs?: number;
}

const READY = /Ready to accept connections/;
const LOG_LINES_KEPT = 40;




class AddressInUseError extends Error {}

/** Spawns redis-server and resolves once it logged that it accepts connections; rejects (and kills it) otherwise. */
async function spawnRedis(port: number, dir: string, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--loglevel', 'notice',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const log: string[] = [];
  const remember = (chunk: Buffer): void => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - LOG_LINES_KEPT));
  };
  // Both streams are read for the whole life of the process, so a full pipe never blocks redis.
  child.stdout!.on('data', remember);
  child.stderr!.on('data', remember);

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server not ready within ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        if (READY.test(chunk.toString('utf8'))) done();
      };
      const onExit = (): void => {
        const text = log.join('\n');
        fail(/Address already in use/i.test(text) ? new AddressInUseError(text) : new Error(`redis-server exited:\n${text}`));
      };
      const onError = (error: Error): void => fail(error); // e.g. redis-server not on the PATH
      function cleanup(): void {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
      }
      function done(): void {
        cleanup();
        resolve();
      }
      function fail(error: Error): void {
        cleanup();
        reject(error);
      }
      child.stdout!.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    throw error;
  }
  return child;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-redis-'));

  let child: ChildProcess | null = null;
  let port = 0;
  // A free port may be taken between our probe and redis binding it: try a few.
  for (let tries = 0; child === null; tries++) {
    port = await freePort();
    try {
      child = await spawnRedis(port, dir, startTimeoutMs);
    } catch (error) {
      if (!(error instanceof AddressInUseError) || tries >= 4) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  async function terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const current = child;
    if (!current) return;
    child = null;
    const gone = exited(current);
    current.kill(signal);
    if (signal === 'SIGTERM') {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), stopTimeoutMs)));
      if ((await Promise.race([gone, late])) === 'late') current.kill('SIGKILL');
      clearTimeout(timer);
    }
    await gone;
  }

  let closed = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get running() {
      return child !== null;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      if (closed) throw new Error('redis-server was closed');
      await terminate('SIGTERM');
      // Same port: clients reconnect to the address they know. Redis binds with SO_REUSEADDR,
      // so the port is free again as soon as the old process is gone.
      child = await spawnRedis(port, dir, startTimeoutMs);
    },
    async close() {
      closed = true;
      await terminate('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
