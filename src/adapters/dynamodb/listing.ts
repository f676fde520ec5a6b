import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DeliveryStatus } from '../../domain/delivery.js';
import { InvalidCursorError, type DeliveryFilter, type DeliveryPage } from '../../ports/lead-store.js';
import type { DynamoContext } from './context.js';
import { errorName } from './errors.js';
import { firstInGroup, type TimeFilter } from './dest-status-index.js';
import { DELIVERY_STATUSES, destStatus, toDelivery, type Item } from './items.js';
import type { DestinationRegistry } from './registry.js';

/**
 * The admin list. With a filter it walks destination-status groups of the sharded
 * by-destination-status-shard index in a fixed order (destination and status: one; destination:
 * its three statuses; status: every destination seen, sorted), each in id order (its shards
 * merged); without one it scans the table. The cursor is the page's last group and id
 * (`{destStatus, id}`, the same cursor the unsharded index gave, so a cursor from the previous
 * release still works) and the next page resumes after that id: pages never overlap or skip.
 */
export async function listDeliveries(
  ctx: DynamoContext,
  registry: DestinationRegistry,
  filter: DeliveryFilter,
): Promise<DeliveryPage> {
  const limit = clampLimit(filter.limit);
  try {
    const byTime = updatedFilter(filter);
    if (filter.status === undefined && filter.destination === undefined) return await scanPage(ctx, limit, filter.cursor, byTime);
    const { status, destination } = filter;
    const groups: Group[] =
      destination === undefined
        ? (await registry.list()).map((d) => ({ destination: d, status: status! }))
        : (status ? [status] : DELIVERY_STATUSES).map((s) => ({ destination, status: s }));
    return await indexPage(ctx, groups, limit, filter.cursor, byTime);
  } catch (error) {
    // A well-formed cursor DynamoDB still refuses as a start key was forged all the same.
    if (filter.cursor !== undefined && errorName(error) === 'ValidationException') throw new InvalidCursorError();
    throw error;
  }
}

interface Group {
  destination: string;
  status: DeliveryStatus;
}

function updatedFilter(filter: DeliveryFilter): TimeFilter {
  const parts: string[] = [];
  const values: Item = {};
  if (filter.since !== undefined) {
    parts.push('#updatedAt >= :since');
    values[':since'] = filter.since;
  }
  if (filter.until !== undefined) {
    parts.push('#updatedAt <= :until');
    values[':until'] = filter.until;
  }
  if (parts.length === 0) return { names: {}, values };
  return { FilterExpression: parts.join(' AND '), names: { '#updatedAt': 'updatedAt' }, values };
}

async function indexPage(ctx: DynamoContext, groups: Group[], limit: number, cursor: string | undefined, byTime: TimeFilter): Promise<DeliveryPage> {
  let first = 0;
  let after: string | undefined;
  if (cursor !== undefined) {
    const key = decodeCursor(cursor, ['destStatus', 'id']);
    first = groups.findIndex((g) => destStatus(g.destination, g.status) === key.destStatus);
    if (first < 0) throw new InvalidCursorError(); // a cursor of another filter
    after = key.id as string;
  }
  // One item more than the page tells whether a next page exists, so the last page's cursor is null.
  const items: Item[] = [];
  for (let i = first; i < groups.length && items.length <= limit; i++) {
    const { destination, status } = groups[i]!;
    items.push(...(await firstInGroup(ctx, destination, status, limit + 1 - items.length, i === first ? after : undefined, byTime)));
  }
  return pageOf(items, limit, (item) => ({ destStatus: destStatus(item.destination as string, item.status as DeliveryStatus), id: item.id }));
}

async function scanPage(ctx: DynamoContext, limit: number, cursor: string | undefined, byTime: TimeFilter): Promise<DeliveryPage> {
  let next: Item | undefined = cursor === undefined ? undefined : decodeCursor(cursor, ['id']);
  const items: Item[] = [];
  do {
    const page = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tables.deliveries,
        Limit: limit + 1 - items.length,
        ExclusiveStartKey: next,
        ...(byTime.FilterExpression
          ? { FilterExpression: byTime.FilterExpression, ExpressionAttributeNames: byTime.names, ExpressionAttributeValues: byTime.values }
          : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    next = page.LastEvaluatedKey;
  } while (next && items.length <= limit);
  return pageOf(items, limit, (item) => ({ id: item.id }));
}

function pageOf(items: Item[], limit: number, keyOf: (item: Item) => Item): DeliveryPage {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(toDelivery), nextCursor: items.length > limit && last ? encodeCursor(keyOf(last)) : null };
}

const CURSOR_VERSION = 1;

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, k: key }), 'utf8').toString('base64url');
}

/** The start key inside a cursor, checked to have exactly `fields`, all non-empty strings. */
function decodeCursor(cursor: string, fields: string[]): Item {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const { v, k } = (parsed ?? {}) as { v?: unknown; k?: unknown };
  if (v !== CURSOR_VERSION || typeof k !== 'object' || k === null || Array.isArray(k)) throw new InvalidCursorError();
  const key = k as Item;
  const names = Object.keys(key).sort();
  const valid =
    names.length === fields.length &&
    [...fields].sort().every((field, i) => names[i] === field && typeof key[field] === 'string' && key[field] !== '');
  if (!valid) throw new InvalidCursorError();
  return key;
}

/** 1..500; a non-number falls back to 100 (as the SQLite store does). */
function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return 100;
  return Math.min(500, Math.max(1, Math.floor(limit)));
}
