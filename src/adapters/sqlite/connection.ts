import Database from 'better-sqlite3';
import type { Statements } from './write-ops.js';

/**
 * Opens one connection with leadgate's settings. The read connection (caller's thread) and the
 * write connection (writer thread) are opened alike.
 */
export function openConnection(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: COMMIT returns only once the WAL is fsynced; that is what "2xx means durable" needs.
  db.pragma('synchronous = FULL');
  // Another process (a CLI replay, a separate worker) may hold the write lock briefly.
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Prepares each SQL text once per connection and reuses it. */
export function statementCache(db: Database.Database): Statements & { clear(): void } {
  const statements = new Map<string, Database.Statement<unknown[], unknown>>();
  return {
    get(sql) {
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        statements.set(sql, stmt);
      }
      return stmt;
    },
    clear: () => statements.clear(),
  };
}
