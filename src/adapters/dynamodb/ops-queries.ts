import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AttemptOutcome } from '../../domain/delivery.js';
import type { LeadStatus } from '../../domain/lead.js';
import { InvalidCursorError, type AttemptCounts, type LeadCounts, type LeadFilter, type LeadPage } from '../../ports/lead-store.js';
import { mapLimit, type DynamoContext } from './context.js';
import { errorName } from './errors.js';
import { toLead, type Item } from './items.js';
import type { DestinationRegistry } from './registry.js';
import { LEADS_INDEX } from './tables.js';

/**
 * The console's reads on DynamoDB. Leads by brand and time come from the leads table's
 * by-brand-received index. Attempts per destination and minute are counters in the activity
 * table, spread over a few shards per destination so that one busy CRM does not make one hot item.
 */

const MINUTE = 60_000;
/** Counter items per destination and minute: each takes a share of the increments. */
const ACTIVITY_SHARDS = 4;
/** Counters outlive the console's 15-minute window by a day, then DynamoDB's TTL removes them. */
const ACTIVITY_TTL_SEC = 86_400;

const activityKey = (destination: string, shard: number): string => `${destination}#${shard}`;

/**
 * Counts one recorded attempt. Best effort, after the attempt's transaction: a counter is an
 * overview figure, and a failure here must not make the worker record the attempt again.
 */
export async function countAttempt(
  ctx: DynamoContext,
  destination: string,
  startedAt: number,
  outcome: AttemptOutcome,
): Promise<void> {
  const minute = Math.floor(startedAt / MINUTE);
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tables.activity,
        Key: { pk: activityKey(destination, Math.floor(Math.random() * ACTIVITY_SHARDS)), minute },
        UpdateExpression: 'ADD #outcome :one SET expiresAtSec = :ttl',
        ExpressionAttributeNames: { '#outcome': outcome },
        ExpressionAttributeValues: { ':one': 1, ':ttl': Math.ceil(((minute + 1) * MINUTE) / 1000) + ACTIVITY_TTL_SEC },
      }),
    );
  } catch {
    // Not counted: the console's rate is a little low for that minute; nothing else depends on it.
  }
}

/** Whole minutes: the minute holding `since` counts in full. */
export async function attemptCounts(ctx: DynamoContext, registry: DestinationRegistry, since: number): Promise<AttemptCounts[]> {
  const fromMinute = Math.floor(since / MINUTE);
  const destinations = await registry.list();
  const results = await mapLimit(destinations, 8, async (destination) => {
    const counts: AttemptCounts = { destination, delivered: 0, retry: 0, dead: 0 };
    let seen = false;
    for (let shard = 0; shard < ACTIVITY_SHARDS; shard++) {
      let startKey: Item | undefined;
      do {
        const page = await ctx.doc.send(
          new QueryCommand({
            TableName: ctx.tables.activity,
            KeyConditionExpression: 'pk = :pk AND #minute >= :from',
            ExpressionAttributeNames: { '#minute': 'minute' },
            ExpressionAttributeValues: { ':pk': activityKey(destination, shard), ':from': fromMinute },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          seen = true;
          for (const outcome of ['delivered', 'retry', 'dead'] as const) counts[outcome] += (item[outcome] as number | undefined) ?? 0;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return seen ? counts : null;
  });
  return results.filter((c): c is AttemptCounts => c !== null);
}

/** The key condition on the index for a brand and an optional time range. */
function brandRange(filter: { brand: string; since?: number; until?: number }) {
  const values: Item = { ':brand': filter.brand };
  let condition = '#brand = :brand';
  if (filter.since !== undefined && filter.until !== undefined) {
    condition += ' AND #receivedAt BETWEEN :since AND :until';
    Object.assign(values, { ':since': filter.since, ':until': filter.until });
  } else if (filter.since !== undefined) {
    condition += ' AND #receivedAt >= :since';
    values[':since'] = filter.since;
  } else if (filter.until !== undefined) {
    condition += ' AND #receivedAt <= :until';
    values[':until'] = filter.until;
  }
  // DynamoDB refuses a name placeholder the expressions do not use.
  const names: Record<string, string> = { '#brand': 'brand' };
  if (condition.includes('#receivedAt')) names['#receivedAt'] = 'receivedAt';
  return { condition, names, values };
}

/** Newest first on the index; ties within a millisecond come in the index's own order, stable across pages. */
export async function listLeads(ctx: DynamoContext, filter: LeadFilter): Promise<LeadPage> {
  const limit = Math.min(500, Math.max(1, Math.floor(Number.isFinite(filter.limit) ? filter.limit : 100)));
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) return { items: [], nextCursor: null };
  const { condition, names, values } = brandRange(filter);
  if (filter.status !== undefined) {
    names['#status'] = 'status';
    values[':status'] = filter.status;
  }
  let next: Item | undefined = filter.cursor === undefined ? undefined : decodeLeadCursor(filter.cursor, filter.brand);
  const items: Item[] = [];
  try {
    do {
      const page = await ctx.doc.send(
        new QueryCommand({
          TableName: ctx.tables.leads,
          IndexName: LEADS_INDEX.byBrandReceived,
          KeyConditionExpression: condition,
          ...(filter.status !== undefined ? { FilterExpression: '#status = :status' } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: next,
        }),
      );
      items.push(...(page.Items ?? []));
      next = page.LastEvaluatedKey;
    } while (next && items.length <= limit);
  } catch (error) {
    if (filter.cursor !== undefined && errorName(error) === 'ValidationException') throw new InvalidCursorError();
    throw error;
  }
  const pageItems = items.slice(0, limit);
  const last = pageItems[pageItems.length - 1];
  return {
    items: pageItems.map(toLead),
    nextCursor:
      items.length > limit && last
        ? Buffer.from(JSON.stringify({ v: 1, k: { id: last.id, brand: last.brand, receivedAt: last.receivedAt } })).toString('base64url')
        : null,
  };
}

function decodeLeadCursor(cursor: string, brand: string): Item {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const { v, k } = (parsed ?? {}) as { v?: unknown; k?: { id?: unknown; brand?: unknown; receivedAt?: unknown } };
  if (v !== 1 || typeof k !== 'object' || k === null) throw new InvalidCursorError();
  if (typeof k.id !== 'string' || k.id === '' || k.brand !== brand || typeof k.receivedAt !== 'number') throw new InvalidCursorError();
  return { id: k.id, brand: k.brand, receivedAt: k.receivedAt };
}

/** Reads the status of each lead of the window from the index (a small projection), counts them here. */
export async function countLeads(ctx: DynamoContext, brand: string, since: number): Promise<LeadCounts> {
  const { condition, names, values } = brandRange({ brand, since });
  names['#status'] = 'status';
  const counts: LeadCounts = {};
  let next: Item | undefined;
  do {
    const page = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tables.leads,
        IndexName: LEADS_INDEX.byBrandReceived,
        KeyConditionExpression: condition,
        ProjectionExpression: '#status',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: next,
      }),
    );
    for (const item of page.Items ?? []) {
      const status = item.status as LeadStatus;
      counts[status] = (counts[status] ?? 0) + 1;
    }
    next = page.LastEvaluatedKey;
  } while (next);
  return counts;
}
