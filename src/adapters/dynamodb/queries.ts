import { GetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Attempt, Delivery } from '../../domain/delivery.js';
import type { StoredLead } from '../../domain/lead.js';
import type { DestinationStats } from '../../ports/lead-store.js';
import type { DynamoContext } from './context.js';
import { countGroup, firstInGroup } from './dest-status-index.js';
import { shardKey, toAttempt, toDelivery, toLead, type Item } from './items.js';
import type { DestinationRegistry } from './registry.js';
import { INDEX, PENDING_SHARDS } from './tables.js';

/** Reads. Index queries are eventually consistent (GSIs offer nothing else); key reads are strong. */

export async function getLead(ctx: DynamoContext, id: string): Promise<StoredLead | null> {
  const { Item } = await ctx.doc.send(new GetCommand({ TableName: ctx.tables.leads, Key: { id }, ConsistentRead: true }));
  return Item ? toLead(Item) : null;
}

export async function getDelivery(ctx: DynamoContext, id: string): Promise<Delivery | null> {
  const { Item } = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tables.deliveries, Key: { id }, ConsistentRead: true }),
  );
  return Item ? toDelivery(Item) : null;
}

export async function listDeliveriesOfLead(ctx: DynamoContext, leadId: string): Promise<Delivery[]> {
  const items = await queryAll(ctx, {
    TableName: ctx.tables.deliveries,
    IndexName: INDEX.byLead,
    KeyConditionExpression: 'leadId = :leadId',
    ExpressionAttributeValues: { ':leadId': leadId },
  });
  return items.map(toDelivery);
}

export async function listAttempts(ctx: DynamoContext, deliveryId: string): Promise<Attempt[]> {
  const items = await queryAll(ctx, {
    TableName: ctx.tables.attempts,
    KeyConditionExpression: 'deliveryId = :id',
    ExpressionAttributeValues: { ':id': deliveryId },
    ConsistentRead: true,
  });
  return items.map(toAttempt);
}

/**
 * Each shard of the sparse due index, oldest due first, at most `limit` each, merged. An index
 * entry can lag its item by a moment, so an entry whose copy is no longer pending is dropped; a
 * delivery that just became due may show up on the next sweep.
 */
export async function findDue(ctx: DynamoContext, now: number, limit: number): Promise<Delivery[]> {
  const max = Math.max(0, Math.floor(limit));
  if (max === 0) return [];
  const shards = await Promise.all(
    Array.from({ length: PENDING_SHARDS }, (_, shard) =>
      queryAll(
        ctx,
        {
          TableName: ctx.tables.deliveries,
          IndexName: INDEX.due,
          KeyConditionExpression: 'pendingShard = :shard AND nextAttemptAt <= :now',
          ExpressionAttributeValues: { ':shard': shardKey(shard), ':now': now },
        },
        max,
      ),
    ),
  );
  return shards
    .flat()
    .filter((item) => item.status === 'pending')
    .map(toDelivery)
    .sort((a, b) => a.nextAttemptAt! - b.nextAttemptAt! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, max);
}

/**
 * Per destination seen: the pending and dead counts and the oldest pending delivery, each read
 * on every shard of by-destination-status-shard (3 x DEST_STATUS_SHARDS queries, in parallel).
 * Cost: a COUNT still reads every item of its partition, about 0.5 read unit per 4 KB (~10
 * deliveries), so a call costs ~(pending + dead) / 20 read units per destination (10,000 dead
 * letters are ~500 units), plus half a unit per query. Called at most once a second per
 * instance, which is fine for the backlogs leadgate expects; replaying or purging dead letters
 * keeps it cheap.
 * The oldest pending delivery is the first by id: ids are UUIDv7, so id order is creation order
 * (up to clock skew between api instances).
 */
export async function stats(ctx: DynamoContext, registry: DestinationRegistry): Promise<DestinationStats[]> {
  const destinations = await registry.list();
  const rows = await Promise.all(
    destinations.map(async (destination): Promise<DestinationStats> => {
      const [pending, dead, oldest] = await Promise.all([
        countGroup(ctx, destination, 'pending'),
        countGroup(ctx, destination, 'dead'),
        firstInGroup(ctx, destination, 'pending', 1),
      ]);
      return { destination, pending, dead, oldestPendingCreatedAt: (oldest[0]?.createdAt as number | undefined) ?? null };
    }),
  );
  // Like the SQLite store: only destinations with something pending or dead.
  return rows.filter((row) => row.pending > 0 || row.dead > 0);
}

/** Every page of a query (each is at most 1 MB), or the first `max` items. */
async function queryAll(ctx: DynamoContext, input: QueryCommandInput, max = Infinity): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await ctx.doc.send(
      new QueryCommand({
        ...input,
        ...(Number.isFinite(max) ? { Limit: max - items.length } : {}),
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length < max);
  return items;
}
