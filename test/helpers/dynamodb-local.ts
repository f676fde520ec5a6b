import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, ListTablesCommand, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { exited, trackChild } from './child-processes.js';
import { freePort } from './free-port.js';
import { waitFor } from './wait.js';

/**
 * Amazon's DynamoDB Local (the jar shipped in the `amplify-dynamodb-simulator` npm package, on
 * Java 17) on a free port, one per test file or script: nothing shared between files.
 *
 * - `-sharedDb`: one database whatever the credentials and region of the caller (without it,
 *   DynamoDB Local keeps a database per access key and region, and two leadgate processes with
 *   different keys would not see each other's tables).
 * - Its data lives in SQLite files in a temp dir (`-dbPath`) rather than `-inMemory`, so kill()
 *   then restart() is an outage that comes back with its data, as the real service does. The dir
 *   is on /dev/shm when there is one (tmpfs: no disk syncs) and is removed by stop().
 * - Ready once ListTables answers (polled with a bounded wait). A process 'exit' hook SIGKILLs
 *   any JVM still running, so an aborted test file leaves none behind.
 */
export interface DynamoDbLocal {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** True while the JVM runs. */
  readonly running: boolean;
  /** A client for this endpoint (region eu-west-1, fake credentials); stop() destroys it. */
  client(overrides?: Partial<DynamoDBClientConfig>): DynamoDBClient;
  /** SIGKILL, as a crashed host would: calls fail (ECONNREFUSED) until restart(). Data is kept. */
  kill(): Promise<void>;
  /** Kills it if running, then starts it again on the same port and data; resolves once it answers. */
  restart(): Promise<void>;
  /** Kills it, destroys the clients and removes its data. Idempotent. */
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Longest wait for the first answer to ListTables (the JVM's start included). */
  startTimeoutMs?: number;
}

const requireCjs = createRequire(import.meta.url);
const EMULATOR_DIR = path.join(path.dirname(requireCjs.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
const LOG_LINES_KEPT = 40;
/** Bounded heap (the default is a quarter of the machine's memory) and one GC thread: a test helper on a shared 2-core machine. */
const JVM_OPTIONS = ['-Xmx768m', '-XX:+UseSerialGC'];





class AddressInUseError extends Error {}

/** Answers ListTables once, without the SDK's retries: the readiness probe. */
async function answers(endpoint: string): Promise<boolean> {
  const probe = new DynamoDBClient({
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'probe', secretAccessKey: 'probe' },
    maxAttempts: 1,
  });
  try {
    await probe.send(new ListTablesCommand({ Limit: 1 }));
    return true;
  } catch {
    return false;
  } finally {
    probe.destroy();
  }
}

/** Spawns the JVM and resolves once it answers; rejects (and kills it) if it exits, cannot bind or stays silent. */
async function spawnDynamoDbLocal(port: number, dbPath: string, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    ...JVM_OPTIONS,
    `-Djava.library.path=${path.join(EMULATOR_DIR, 'DynamoDBLocal_lib')}`,
    '-jar', path.join(EMULATOR_DIR, 'DynamoDBLocal.jar'),
    '-port', String(port),
    '-dbPath', dbPath,
    '-sharedDb',
    '-disableTelemetry',
  ];
  const child = spawn('java', args, { cwd: EMULATOR_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const log: string[] = [];
  let failure: Error | null = null;
  const remember = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    log.push(...text.split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - LOG_LINES_KEPT));
    // A failed bind leaves the JVM running (Jetty's threads are not daemons): spot it in the log.
    if (/Failed to bind|Address already in use/.test(text)) failure ??= new AddressInUseError(log.join('\n'));
  };
  // Both streams are read for the whole life of the process, so a full pipe never blocks the JVM.
  child.stdout!.on('data', remember);
  child.stderr!.on('data', remember);
  child.once('error', (error) => (failure ??= error)); // e.g. java not on the PATH
  child.once('exit', (code, signal) => (failure ??= new Error(`DynamoDB Local exited (${signal ?? code}):\n${log.join('\n')}`)));

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (failure) throw failure;
        return answers(endpoint);
      },
      { timeoutMs, what: `DynamoDB Local to answer on port ${port}` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    throw error;
  }
  return child;
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dbPath = fs.mkdtempSync(path.join(base, 'leadgate-dynamodb-'));

  let child: ChildProcess | null = null;
  let port = 0;
  for (let tries = 0; child === null; tries++) {
    port = await freePort();
    try {
      child = await spawnDynamoDbLocal(port, dbPath, startTimeoutMs);
    } catch (error) {
      if (!(error instanceof AddressInUseError) || tries >= 4) {
        fs.rmSync(dbPath, { recursive: true, force: true });
        throw error;
      }
    }
  }

  async function kill(): Promise<void> {
    const current = child;
    if (!current) return;
    child = null;
    const gone = exited(current);
    current.kill('SIGKILL');
    await gone;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const clients: DynamoDBClient[] = [];
  let stopped = false;
  return {
    endpoint,
    port,
    get running() {
      return child !== null;
    },
    client(overrides = {}) {
      const client = new DynamoDBClient({
        region: 'eu-west-1',
        endpoint,
        credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    kill,
    async restart() {
      if (stopped) throw new Error('DynamoDB Local was stopped');
      await kill();
      // Same port: clients reconnect to the address they know. Jetty binds with SO_REUSEADDR.
      child = await spawnDynamoDbLocal(port, dbPath, startTimeoutMs);
    },
    async stop() {
      stopped = true;
      for (const client of clients.splice(0)) client.destroy();
      await kill();
      fs.rmSync(dbPath, { recursive: true, force: true });
    },
  };
}
