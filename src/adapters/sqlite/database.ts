import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { openConnection, statementCache } from './connection.js';
import type { BatchAnswer, WriteArgs, WriteFailure, WriteOpName, WriteRequest, WriteResult } from './write-ops.js';

/**
 * src/adapters/sqlite/database.ts and dist/adapters/sqlite/database.js are both three levels
 * below the repository (or installed package) root, where `migrations/` lives.
 */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/sqlite/', import.meta.url));

/**
 * A worker thread runs plain JavaScript: when the sources run as TypeScript (vitest), the
 * thread is the built one in dist/ (`npm test` builds first).
 */
const WRITER_THREAD = new URL(
  import.meta.url.endsWith('.ts') ? '../../../dist/adapters/sqlite/writer-thread.js' : './writer-thread.js',
  import.meta.url,
);

const MIGRATION_FILE = /^(\d+)_[\w-]+\.sql$/;

/** Writes sent to the writer thread in one batch (one transaction) at most. */
const MAX_BATCH = 1000;

interface QueuedWrite {
  request: WriteRequest;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Thrown to callers of `write()` once the database is closed. */
export class DatabaseClosedError extends Error {
  constructor() {
    super('sqlite database is closed');
    this.name = 'DatabaseClosedError';
  }
}

export interface SqliteDatabaseOptions {
  /** Where the numbered *.sql files are; defaults to the bundled migrations/sqlite. */
  migrationsDir?: string;
}

/**
 * The embedded database shared by the SQLite store and queue: one read connection on the
 * caller's thread, and a writer thread owning the only write connection, with group commit.
 *
 * Writes are named operations (write-ops.ts) with plain-data arguments. Every write queued
 * while the writer is busy goes into its next batch, run in one transaction: one fsync covers
 * many requests, and the event loop never waits on an INSERT or an fsync. Each write resolves
 * with its own result only after COMMIT (the durability point), or rejects alone if it fails
 * (each runs in its own savepoint).
 *
 * Reads go straight to `statement(sql)` on the read connection; in WAL mode a reader sees the
 * last committed transaction, so a read after a write's promise resolved sees that write.
 */
export class SqliteDatabase {
  /** The read connection (migrations run on it too, before the first write). */
  readonly db: Database.Database;
  /** Transactions committed by the writer; lets tests check batching. */
  commits = 0;
  private readonly statements: ReturnType<typeof statementCache>;
  private readonly migrationsDir: string;
  private writer: Worker | null = null;
  private queue: QueuedWrite[] = [];
  /** The batch the writer thread is committing; one at a time. */
  private inFlight: QueuedWrite[] | null = null;
  private flushScheduled = false;
  private drained: Array<() => void> = [];
  private closed = false;
  private closing: Promise<void> | null = null;
  private users = 0;

  constructor(
    private readonly file: string,
    options: SqliteDatabaseOptions = {},
  ) {
    this.migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
    this.db = openConnection(file);
    this.statements = statementCache(this.db);
  }

  /** A prepared statement on the read connection, prepared once per SQL text and reused. */
  statement(sql: string): Database.Statement<unknown[], unknown> {
    return this.statements.get(sql);
  }

  /**
   * Applies the missing numbered migrations in order, in one IMMEDIATE transaction (so two
   * processes migrating at once do not both apply a file), recording each in
   * schema_migrations. Idempotent.
   */
  migrate(): void {
    if (this.closed) throw new DatabaseClosedError();
    const files = readdirSync(this.migrationsDir)
      .filter((name) => MIGRATION_FILE.test(name))
      .sort((a, b) => Number(MIGRATION_FILE.exec(a)?.[1]) - Number(MIGRATION_FILE.exec(b)?.[1]));
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const applied = this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
    const record = this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    this.db
      .transaction(() => {
        for (const file of files) {
          if (applied.get(file)) continue;
          this.db.exec(readFileSync(join(this.migrationsDir, file), 'utf8'));
          record.run(file, Date.now());
        }
      })
      .immediate();
  }

  /** Queues a write for the writer thread; resolves with its result once committed. */
  write<K extends WriteOpName>(op: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.closed) return Promise.reject(new DatabaseClosedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { op, args }, resolve: resolve as (value: unknown) => void, reject });
      // Sent at the end of this event-loop turn, with whatever else the turn queued; while a
      // batch is in flight, its answer sends the next one.
      if (!this.flushScheduled && this.inFlight === null) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.send();
        });
      }
    });
  }

  /** Registers an adapter using this connection; the last one to release it closes it. */
  acquire(): () => Promise<void> {
    this.users += 1;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.users -= 1;
      if (this.users <= 0) await this.close();
    };
  }

  /** Refuses new writes, commits the queued ones, stops the writer thread, closes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.queue.length > 0 || this.inFlight !== null) {
        const drained = new Promise<void>((resolve) => this.drained.push(resolve));
        this.send();
        await drained;
      }
      const writer = this.writer;
      this.writer = null;
      if (writer) {
        const exited = once(writer, 'exit');
        writer.postMessage(null);
        await exited;
      }
      this.statements.clear();
      this.db.close();
    })();
    return this.closing;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private send(): void {
    if (this.inFlight !== null) return;
    if (this.queue.length === 0) {
      for (const resolve of this.drained.splice(0)) resolve();
      return;
    }
    const batch = this.queue.splice(0, MAX_BATCH);
    const writer = this.startWriter();
    this.inFlight = batch;
    writer.ref(); // an answer is owed: keep the process alive for it
    writer.postMessage({ requests: batch.map((write) => write.request) });
  }

  private startWriter(): Worker {
    if (this.writer) return this.writer;
    const writer = new Worker(WRITER_THREAD, { workerData: { file: this.file } });
    writer.on('message', (message: { answer: BatchAnswer }) => this.answered(message.answer));
    // A thread that died (native crash, out of memory) fails its batch; the next write starts a new one.
    const lost = (error: unknown) => {
      if (this.writer !== writer) return;
      this.writer = null;
      this.answered({ committed: false, error: { name: 'SqliteWriterError', message: `sqlite writer thread stopped: ${describe(error)}` } });
    };
    writer.on('error', lost);
    writer.on('exit', (code) => lost(`exit code ${code}`));
    this.writer = writer;
    return writer;
  }

  private answered(answer: BatchAnswer): void {
    const batch = this.inFlight;
    if (batch === null) return;
    this.inFlight = null;
    this.writer?.unref(); // idle: let the process exit if nothing else holds it
    if (answer.committed) {
      this.commits += 1;
      batch.forEach((write, i) => {
        const outcome = answer.outcomes[i]!;
        if (outcome.ok) write.resolve(outcome.value);
        else write.reject(toError(outcome.error));
      });
    } else {
      for (const write of batch) write.reject(toError(answer.error));
    }
    // Writes queued while this batch was committing go now, as the next batch.
    this.send();
  }
}

/** A writer-thread failure as an Error again, with SQLite's code (SQLITE_BUSY, SQLITE_FULL...) kept. */
function toError(failure: WriteFailure): Error {
  const error = new Error(failure.message) as Error & { code?: string };
  error.name = failure.name;
  if (failure.code !== undefined) error.code = failure.code;
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens (creating it if needed) `<dataDir>/leadgate.db`. Call `migrate()` before use. */
export function openSqliteDatabase(dataDir: string, options: SqliteDatabaseOptions = {}): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteDatabase(join(dataDir, 'leadgate.db'), options);
}
