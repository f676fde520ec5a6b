import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseClosedError, openSqliteDatabase, type SqliteDatabase } from '../../src/adapters/sqlite/database.js';

describe('SqliteDatabase group commit', () => {
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

  const insert = (id: number, v: string | null) => () => db.statement('INSERT INTO t (id, v) VALUES (?, ?)').run(id, v).changes;
  const count = () => db.db.prepare('SELECT COUNT(*) FROM t').pluck().get();

  it('runs the writes of one event-loop turn in one transaction, each with its own result', async () => {
    const before = db.commits;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => db.write(() => insert(i, `v${i}`)() + i)));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => 1 + i));
    expect(db.commits - before).toBe(1);
    expect(count()).toBe(50);
  });

  it('writes of separate turns commit separately', async () => {
    const before = db.commits;
    await db.write(insert(1, 'a'));
    await db.write(insert(2, 'b'));
    expect(db.commits - before).toBe(2);
  });

  it('a deferred write waits for company: an urgent write in the meantime commits both at once', async () => {
    const before = db.commits;
    const deferred = db.write(insert(1, 'a'), { deferMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(0); // still waiting
    await Promise.all([db.write(insert(2, 'b')), deferred]);
    expect(db.commits - before).toBe(1);
    expect(count()).toBe(2);
    // Alone, it commits once its delay is over.
    await db.write(insert(3, 'c'), { deferMs: 5 });
    expect(count()).toBe(3);
  });

  it('a failing write rejects alone; the others in its batch commit', async () => {
    const before = db.commits;
    const outcomes = await Promise.allSettled([
      db.write(insert(1, 'a')),
      db.write(insert(2, null)), // NOT NULL violation
      db.write(() => {
        insert(3, 'c')();
        throw new Error('after a partial write');
      }),
      db.write(insert(4, 'd')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(db.commits - before).toBe(1);
    // The partial write of the third one was rolled back to its savepoint.
    expect(db.db.prepare('SELECT id FROM t ORDER BY id').pluck().all()).toEqual([1, 4]);
  });

  it('runs each write once when none fails; after a failure, the batch again with a savepoint each', async () => {
    const calls = [0, 0, 0];
    const counted = (i: number, id: number, v: string | null) => () => {
      calls[i]! += 1;
      return insert(id, v)();
    };
    await Promise.all([db.write(counted(0, 1, 'a')), db.write(counted(1, 2, 'b'))]);
    expect(calls).toEqual([1, 1, 0]);
    const outcomes = await Promise.allSettled([db.write(counted(0, 3, 'c')), db.write(counted(2, 4, null)), db.write(counted(1, 5, 'e'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The optimistic run stopped at the failing write (the third never ran), then all three ran isolated.
    expect(calls).toEqual([3, 2, 2]);
    expect(db.db.prepare('SELECT id FROM t ORDER BY id').pluck().all()).toEqual([1, 2, 3, 5]);
  });

  it('resolves only after COMMIT', async () => {
    const inTransaction = await db.write(insert(1, 'a')).then(() => db.db.inTransaction);
    expect(inTransaction).toBe(false);
    // A second connection sees the row: it is committed, not just written.
    const other = openSqliteDatabase(dir);
    expect(other.db.prepare('SELECT v FROM t WHERE id = 1').pluck().get()).toBe('a');
    await other.close();
  });

  it('close() flushes queued writes; writes after close reject', async () => {
    const queued = db.write(insert(1, 'a'));
    await db.close();
    await expect(queued).resolves.toBe(1);
    await expect(db.write(insert(2, 'b'))).rejects.toBeInstanceOf(DatabaseClosedError);
  });
});
