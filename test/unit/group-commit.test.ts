import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseClosedError, openSqliteDatabase, type SqliteDatabase } from '../../src/adapters/sqlite/database.js';

describe('SqliteDatabase: writer thread with group commit', () => {
  let dir: string;
  let db: SqliteDatabase;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-'));
    db = openSqliteDatabase(dir);
    db.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const insert = (id: number, v: string | null) => ({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', params: [id, v] });
  const write = (...statements: ReturnType<typeof insert>[]) => db.write('exec', statements);
  const ids = () => db.db.prepare('SELECT id FROM t ORDER BY id').pluck().all();
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('runs the writes of one event-loop turn in one transaction, each with its own result', async () => {
    const before = db.commits;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => write(insert(i, `v${i}`), insert(100 + i, 'x'))));
    expect(results).toEqual(Array.from({ length: 50 }, () => [1, 1]));
    expect(db.commits - before).toBe(1);
    expect(ids()).toHaveLength(100);
  });

  it('writes queued while a batch is committing go together into the next one', async () => {
    const before = db.commits;
    const first = write(insert(1, 'a'));
    await turn(); // the first batch is sent
    const rest = Array.from({ length: 50 }, (_, i) => write(insert(10 + i, 'b')));
    await Promise.all([first, ...rest]);
    expect(db.commits - before).toBe(2);
  });

  it('a failing write rejects alone and its partial writes are undone; the others in its batch commit', async () => {
    const before = db.commits;
    const outcomes = await Promise.allSettled([
      write(insert(1, 'a')),
      write(insert(2, null)), // NOT NULL violation
      write(insert(3, 'c'), insert(4, null)), // the first statement ran, then the second failed
      write(insert(5, 'd')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const error = (outcomes[1] as PromiseRejectedResult).reason as Error & { code?: string };
    expect(error.message).toMatch(/NOT NULL/);
    expect(error.code).toBe('SQLITE_CONSTRAINT_NOTNULL');
    expect(db.commits - before).toBe(1);
    expect(ids()).toEqual([1, 5]);
  });

  it('resolves only after COMMIT: another connection sees the row', async () => {
    await write(insert(1, 'a'));
    const other = openSqliteDatabase(dir);
    expect(other.db.prepare('SELECT v FROM t WHERE id = 1').pluck().get()).toBe('a');
    await other.close();
  });

  it('the event loop goes on while a write waits for the write lock', async () => {
    const other = openSqliteDatabase(dir);
    other.db.exec('BEGIN IMMEDIATE'); // holds the write lock, as another process would
    let done = false;
    const pending = write(insert(1, 'a')).then(() => (done = true));
    for (let i = 0; i < 5; i++) await turn();
    expect(done).toBe(false); // waiting in the writer thread, not in this one
    expect(ids()).toEqual([]); // and reads still answer meanwhile
    other.db.exec('COMMIT');
    await pending;
    expect(ids()).toEqual([1]);
    await other.close();
  });

  // (Terminating it in the middle of a statement would take the whole process down with a V8
  // fatal error inside better-sqlite3, so leadgate never does: close() asks it to stop.)
  it('a writer thread that is gone is replaced by the next write', async () => {
    await write(insert(1, 'a'));
    const writer = (db as unknown as { writer: Worker }).writer;
    await writer.terminate();
    await expect(write(insert(2, 'b'))).resolves.toEqual([1]);
    expect((db as unknown as { writer: Worker }).writer).not.toBe(writer);
    expect(ids()).toEqual([1, 2]);
  });

  it('close() commits queued writes; writes after close reject', async () => {
    const queued = write(insert(1, 'a'));
    await db.close();
    await expect(queued).resolves.toEqual([1]);
    await expect(write(insert(2, 'b'))).rejects.toBeInstanceOf(DatabaseClosedError);
    const reopened = openSqliteDatabase(dir);
    expect(reopened.db.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1);
    await reopened.close();
  });
});
