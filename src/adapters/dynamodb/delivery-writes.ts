import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AttemptResult, Delivery, DeliveryStatus } from '../../domain/delivery.js';
import type { ReplaySelector } from '../../ports/lead-store.js';
import { mapLimit, type DynamoContext } from './context.js';
import { cancellationCodes, DynamoStoreError, isConditionalCheckFailed } from './errors.js';
import { attemptItem, destStatus, destStatusShard, destStatusShardKey, pendingShard, toDelivery, updateExpression, type Item } from './items.js';
import { countAttempt } from './ops-queries.js';
import { DEST_STATUS_SHARDS, INDEX } from './tables.js';

/** Parallel updates of a bulk replay: enough to be quick, few enough not to throttle a table. */
const REPLAY_CONCURRENCY = 16;

/** Rounds of recordAttempt when another writer's transaction on the same delivery conflicts. */
const CONFLICT_ROUNDS = 3;

/**
 * The attributes that move with the status: the index keys follow it, so that the due index
 * holds pending deliveries only (sparse) and by-destination-status(-shard) files it under its
 * status. Every write of a status goes through here, so both destination-status keys agree.
 */
function statusValues(delivery: { id: string; destination: string }, status: DeliveryStatus, dueAt: number | null) {
  return {
    status,
    destStatus: destStatus(delivery.destination, status),
    destStatusShard: destStatusShard(delivery.destination, status, delivery.id),
    pendingShard: status === 'pending' ? pendingShard(delivery.id) : null,
    nextAttemptAt: status === 'pending' ? dueAt : null,
  };
}

async function getDeliveryItem(ctx: DynamoContext, id: string): Promise<Item | undefined> {
  const { Item } = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tables.deliveries, Key: { id }, ConsistentRead: true }),
  );
  return Item;
}

/**
 * One transaction: the attempt (attribute_not_exists: a number already recorded fails) and the
 * delivery's move (conditional on pending). The delivery is read first because the index key
 * destStatus needs its destination; the conditions, not that read, decide.
 */
export async function recordAttempt(ctx: DynamoContext, result: AttemptResult): Promise<boolean> {
  const { attempt } = result;
  for (let round = 0; round < CONFLICT_ROUNDS; round++) {
    const current = await getDeliveryItem(ctx, attempt.deliveryId);
    if (!current || current.status !== 'pending') return false;
    const now = ctx.now();
    const update = updateExpression(
      {
        // A pending delivery always has a due time, or the sweeper would never see it again.
        ...statusValues(current as { id: string; destination: string }, result.status, result.nextAttemptAt ?? now),
        lastStatusCode: attempt.statusCode,
        lastError: attempt.error,
        deliveredAt: result.status === 'delivered' ? attempt.startedAt + attempt.durationMs : null,
        updatedAt: now,
      },
      { add: result.keepsSchedule ? ['attempts'] : ['attempts', 'cycleAttempts'] },
    );
    try {
      await ctx.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: ctx.tables.attempts,
                // The attempt expires with its delivery (the lead's retention).
                Item: attemptItem(attempt, current.expiresAtSec as number | undefined),
                ConditionExpression: 'attribute_not_exists(deliveryId)',
              },
            },
            {
              Update: {
                TableName: ctx.tables.deliveries,
                Key: { id: attempt.deliveryId },
                ...update,
                ConditionExpression: '#status = :pending',
                ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':pending': 'pending' },
              },
            },
          ],
        }),
      );
      await countAttempt(ctx, current.destination as string, attempt.startedAt, attempt.outcome);
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (!codes) throw error;
      // [attempt, delivery]: an attempt already recorded, or a delivery no longer pending.
      if (codes.includes('ConditionalCheckFailed')) return false;
      if (!codes.includes('TransactionConflict')) throw error;
      // A concurrent writer on this delivery (a duplicate job): read again and decide.
    }
  }
  throw new DynamoStoreError('dynamodb recordAttempt: the delivery kept changing under concurrent writers', 'TransactionConflict');
}

export async function replay(ctx: DynamoContext, selector: ReplaySelector): Promise<Delivery[]> {
  if ('deliveryId' in selector) {
    const current = await getDeliveryItem(ctx, selector.deliveryId);
    if (!current || !(await replayable(ctx, current))) return [];
    const replayed = await replayOne(ctx, current, null);
    return replayed ? [replayed] : [];
  }
  const names: Record<string, string> = { '#key': 'destStatusShard' };
  const filters: string[] = [];
  const values: Item = {};
  if (selector.since !== undefined) filters.push('#updatedAt >= :since');
  if (selector.until !== undefined) filters.push('#updatedAt <= :until');
  if (filters.length) names['#updatedAt'] = 'updatedAt';
  if (selector.since !== undefined) values[':since'] = selector.since;
  if (selector.until !== undefined) values[':until'] = selector.until;

  // Every shard of the destination's dead letters, at once, sharing the concurrency budget.
  const perShard = Math.max(1, Math.floor(REPLAY_CONCURRENCY / DEST_STATUS_SHARDS));
  const shards = await Promise.all(
    Array.from({ length: DEST_STATUS_SHARDS }, async (_, shard) => {
      const replayed: Delivery[] = [];
      let startKey: Item | undefined;
      do {
        const page = await ctx.doc.send(
          new QueryCommand({
            TableName: ctx.tables.deliveries,
            IndexName: INDEX.byDestinationStatusShard,
            KeyConditionExpression: '#key = :key',
            ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ...values, ':key': destStatusShardKey(selector.destination, 'dead', shard) },
            ExclusiveStartKey: startKey,
          }),
        );
        // Moving items out of the dead partition does not disturb paging: a start key is a position.
        const done = await mapLimit(page.Items ?? [], perShard, async (item) =>
          (await replayable(ctx, item)) ? replayOne(ctx, item, 'dead') : null,
        );
        for (const delivery of done) if (delivery) replayed.push(delivery);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return replayed;
    }),
  );
  return shards.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Never a cancelled delivery, nor the lead.created of an erased lead (it would send the tombstone). */
async function replayable(ctx: DynamoContext, item: Item): Promise<boolean> {
  if (item.status === 'cancelled') return false;
  if (item.kind === 'lead.erased') return true;
  const { Item: lead } = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tables.leads, Key: { id: item.leadId }, ProjectionExpression: '#status', ExpressionAttributeNames: { '#status': 'status' }, ConsistentRead: true }),
  );
  return lead?.status !== 'erased';
}

/**
 * Pending and due now, same id, attempts kept, schedule (cycleAttempts) reset. With
 * `onlyFrom`, conditional on that status: the index read may be stale, or another replay won.
 */
async function replayOne(ctx: DynamoContext, item: Item, onlyFrom: DeliveryStatus | null): Promise<Delivery | null> {
  const now = ctx.now();
  const update = updateExpression({
    ...statusValues(item as { id: string; destination: string }, 'pending', now),
    cycleAttempts: 0,
    deliveredAt: null,
    updatedAt: now,
  });
  try {
    const { Attributes } = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tables.deliveries,
        Key: { id: item.id },
        ...update,
        ConditionExpression: onlyFrom ? '#status = :from' : 'attribute_exists(id)',
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...(onlyFrom ? { ':from': onlyFrom } : {}) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes ? toDelivery(Attributes) : null;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return null;
    throw error;
  }
}
