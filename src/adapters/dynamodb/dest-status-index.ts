import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DeliveryStatus } from '../../domain/delivery.js';
import type { DynamoContext } from './context.js';
import { destStatusShardKey, type Item } from './items.js';
import { DEST_STATUS_SHARDS, INDEX } from './tables.js';

/**
 * Reads of one destination and status on the sharded index by-destination-status-shard: every
 * shard is ordered by id, so merging the shards by id gives one ordered list, and a position in
 * it is just the last id seen (each shard resumes at `id > last`, no per-shard cursor needed).
 *
 * An index entry whose copy has another status is dropped: an index lags its item by a moment,
 * and an item the previous release moved after the backfill keeps a stale key until the next
 * backfill pass (migrate-dest-status-shard.ts).
 */

/** since/until on updatedAt as a filter expression (the keys order by id, not by change). */
export interface TimeFilter {
  FilterExpression?: string;
  names: Record<string, string>;
  values: Item;
}

function shardQuery(
  ctx: DynamoContext,
  destination: string,
  status: DeliveryStatus,
  shard: number,
  after?: string,
  byTime?: TimeFilter,
): QueryCommandInput {
  return {
    TableName: ctx.tables.deliveries,
    IndexName: INDEX.byDestinationStatusShard,
    KeyConditionExpression: after === undefined ? '#key = :key' : '#key = :key AND #id > :after',
    FilterExpression: byTime?.FilterExpression ? `#status = :status AND ${byTime.FilterExpression}` : '#status = :status',
    ExpressionAttributeNames: {
      '#key': 'destStatusShard',
      '#status': 'status',
      ...(after === undefined ? {} : { '#id': 'id' }),
      ...(byTime?.names ?? {}),
    },
    ExpressionAttributeValues: {
      ':key': destStatusShardKey(destination, status, shard),
      ':status': status,
      ...(after === undefined ? {} : { ':after': after }),
      ...(byTime?.values ?? {}),
    },
  };
}

const shards = (): number[] => Array.from({ length: DEST_STATUS_SHARDS }, (_, shard) => shard);

/** Ids are ASCII (UUIDv7), so UTF-16 order is DynamoDB's byte order. */
const byId = (a: Item, b: Item): number => ((a.id as string) < (b.id as string) ? -1 : (a.id as string) > (b.id as string) ? 1 : 0);

/** The number of deliveries of a destination in a status: one COUNT query (paged) per shard. */
export async function countGroup(ctx: DynamoContext, destination: string, status: DeliveryStatus): Promise<number> {
  const counts = await Promise.all(
    shards().map(async (shard) => {
      let total = 0;
      let startKey: Item | undefined;
      do {
        const page = await ctx.doc.send(
          new QueryCommand({ ...shardQuery(ctx, destination, status, shard), Select: 'COUNT', ExclusiveStartKey: startKey }),
        );
        total += page.Count ?? 0;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return total;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * The first `want` deliveries of a destination in a status with an id above `after`, in id
 * order: a k-way merge of the shards, each read in small pages and refilled only when the merge
 * has used up its page, so a page of n items reads about n + a few items per shard.
 */
export async function firstInGroup(
  ctx: DynamoContext,
  destination: string,
  status: DeliveryStatus,
  want: number,
  after?: string,
  byTime?: TimeFilter,
): Promise<Item[]> {
  if (want <= 0) return [];
  const chunk = Math.ceil(want / DEST_STATUS_SHARDS) + 1;
  const streams = shards().map((shard) => ({ shard, buffer: [] as Item[], next: undefined as Item | undefined, done: false }));
  const refill = async (stream: (typeof streams)[number]): Promise<void> => {
    // A filtered page can come back empty with more to read: keep going until items or the end.
    while (stream.buffer.length === 0 && !stream.done) {
      const page = await ctx.doc.send(
        new QueryCommand({ ...shardQuery(ctx, destination, status, stream.shard, after, byTime), Limit: chunk, ExclusiveStartKey: stream.next }),
      );
      stream.buffer.push(...(page.Items ?? []));
      stream.next = page.LastEvaluatedKey;
      stream.done = stream.next === undefined;
    }
  };
  const items: Item[] = [];
  while (items.length < want) {
    await Promise.all(streams.filter((s) => s.buffer.length === 0 && !s.done).map(refill));
    let lowest: (typeof streams)[number] | undefined;
    for (const stream of streams) {
      if (stream.buffer.length > 0 && (!lowest || byId(stream.buffer[0]!, lowest.buffer[0]!) < 0)) lowest = stream;
    }
    if (!lowest) break;
    items.push(lowest.buffer.shift()!);
  }
  return items;
}
