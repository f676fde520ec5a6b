import type { LeadStatus } from '../../domain/lead.js';
import { InvalidCursorError, type AttemptCounts, type LeadCounts, type LeadFilter, type LeadPage } from '../../ports/lead-store.js';
import type { SqliteDatabase } from './database.js';
import { clampLimit, toLead, type LeadRow } from './rows.js';

/** The console's reads on the embedded store: leads by brand and time, counts for the overview. */

const LEAD_CURSOR = /^l1:(\d{1,15}):([0-9a-f-]{1,64})$/;

function encodeLeadCursor(receivedAt: number, id: string): string {
  return Buffer.from(`l1:${receivedAt}:${id}`, 'utf8').toString('base64url');
}

function decodeLeadCursor(cursor: string): { receivedAt: number; id: string } {
  const match = LEAD_CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw new InvalidCursorError();
  return { receivedAt: Number(match[1]), id: match[2]! };
}

/** Newest first on (received_at, id), served by the index leads_brand_received. */
export function listLeads(database: SqliteDatabase, filter: LeadFilter): LeadPage {
  const limit = clampLimit(filter.limit);
  const where = ['brand = ?'];
  const params: unknown[] = [filter.brand];
  if (filter.status !== undefined) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.since !== undefined) {
    where.push('received_at >= ?');
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.push('received_at <= ?');
    params.push(filter.until);
  }
  if (filter.cursor !== undefined) {
    const after = decodeLeadCursor(filter.cursor);
    where.push('(received_at < ? OR (received_at = ? AND id < ?))');
    params.push(after.receivedAt, after.receivedAt, after.id);
  }
  const sql = `SELECT id, received_at, data FROM leads WHERE ${where.join(' AND ')}
      ORDER BY received_at DESC, id DESC LIMIT ?`;
  const rows = database.statement(sql).all(...params, limit + 1) as Array<LeadRow & { id: string; received_at: number }>;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toLead),
    nextCursor: rows.length > limit && last ? encodeLeadCursor(last.received_at, last.id) : null,
  };
}

export function countLeads(database: SqliteDatabase, brand: string, since: number): LeadCounts {
  const rows = database
    .statement('SELECT status, COUNT(*) AS n FROM leads WHERE brand = ? AND received_at >= ? GROUP BY status')
    .all(brand, since) as Array<{ status: LeadStatus; n: number }>;
  return Object.fromEntries(rows.map((row) => [row.status, row.n])) as LeadCounts;
}

export function attemptCounts(database: SqliteDatabase, since: number): AttemptCounts[] {
  const rows = database
    .statement(
      `SELECT d.destination AS destination, a.outcome AS outcome, COUNT(*) AS n
         FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE a.started_at >= ? GROUP BY d.destination, a.outcome ORDER BY d.destination`,
    )
    .all(since) as Array<{ destination: string; outcome: 'delivered' | 'retry' | 'dead'; n: number }>;
  const byDestination = new Map<string, AttemptCounts>();
  for (const row of rows) {
    const counts = byDestination.get(row.destination) ?? { destination: row.destination, delivered: 0, retry: 0, dead: 0 };
    counts[row.outcome] += row.n;
    byDestination.set(row.destination, counts);
  }
  return [...byDestination.values()];
}
