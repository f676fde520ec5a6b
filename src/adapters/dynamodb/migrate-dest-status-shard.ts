import { GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeliveryStatus } from '../../domain/delivery.js';
import { mapLimit, type DynamoContext } from './context.js';
import { isConditionalCheckFailed } from './errors.js';
import { destStatusShard, type Item } from './items.js';

/**
 * The backfill of `destStatusShard`, the key of the sharded index by-destination-status-shard,
 * on deliveries written before it existed (a GSI only holds items that carry its key, so adding
 * the index indexes none of them). Run by `leadgate migrate` after the index is ACTIVE.
 *
 * Two passes, one per migrate, then never again: the first when this release is deployed; the
 * second at the next migrate (the next deploy), which catches what instances of the previous
 * release wrote during the first rollout, after the first pass had gone by. A pass scans the
 * table and only writes items whose key is missing or wrong, so a repeated pass is harmless.
 * Runbook: docs/operations.md, "DynamoDB: the sharded destination-status index".
 */

/** The progress marker, a row of the destinations table (destination ids never hold '#'). */
export const BACKFILL_MARKER_ID = '#backfill:destStatusShard';
export const BACKFILL_PASSES = 2;

/** Scan segments read in parallel, and conditional updates in flight: quick, without throttling the table. */
const SEGMENTS = 4;
const WRITE_CONCURRENCY = 16;

export interface BackfillReport {
  /** 0 when every pass was already done. */
  pass: number;
  scanned: number;
  updated: number;
}

export async function backfillDestStatusShard(ctx: DynamoContext): Promise<BackfillReport> {
  const { Item: marker } = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tables.destinations, Key: { id: BACKFILL_MARKER_ID }, ConsistentRead: true }),
  );
  const done = (marker?.passes as number | undefined) ?? 0;
  if (done >= BACKFILL_PASSES) return { pass: 0, scanned: 0, updated: 0 };
  const counts = await Promise.all(Array.from({ length: SEGMENTS }, (_, segment) => scanSegment(ctx, segment)));
  const report = {
    pass: done + 1,
    scanned: counts.reduce((a, c) => a + c.scanned, 0),
    updated: counts.reduce((a, c) => a + c.updated, 0),
  };
  try {
    // Monotonic: two migrates running the same pass at once count it once.
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tables.destinations,
        Key: { id: BACKFILL_MARKER_ID },
        UpdateExpression: 'SET passes = :pass, passDoneAt = :now',
        ConditionExpression: 'attribute_not_exists(passes) OR passes < :pass',
        ExpressionAttributeValues: { ':pass': report.pass, ':now': ctx.now() },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
  return report;
}

async function scanSegment(ctx: DynamoContext, segment: number): Promise<{ scanned: number; updated: number }> {
  let scanned = 0;
  let updated = 0;
  let startKey: Item | undefined;
  do {
    const page = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tables.deliveries,
        Segment: segment,
        TotalSegments: SEGMENTS,
        ProjectionExpression: 'id, destination, #status, destStatusShard',
        ExpressionAttributeNames: { '#status': 'status' },
        ExclusiveStartKey: startKey,
      }),
    );
    const items = page.Items ?? [];
    scanned += items.length;
    // UpdateItem, not BatchWriteItem: a batch can only replace whole items, without conditions.
    const written = await mapLimit(items.filter(needsKey), WRITE_CONCURRENCY, (item) => setKey(ctx, item));
    updated += written.filter(Boolean).length;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { scanned, updated };
}

function expectedKey(item: Item): string | null {
  if (typeof item.destination !== 'string' || typeof item.status !== 'string' || typeof item.id !== 'string') return null;
  return destStatusShard(item.destination, item.status as DeliveryStatus, item.id);
}

function needsKey(item: Item): boolean {
  const expected = expectedKey(item);
  return expected !== null && item.destStatusShard !== expected;
}

/**
 * Sets the key for the status the item has, conditional on that status: if a writer moved it
 * since the scan, it is read again. A deleted item fails the condition and stays deleted.
 */
async function setKey(ctx: DynamoContext, scanned: Item): Promise<boolean> {
  let item: Item | undefined = scanned;
  for (let round = 0; round < 3 && item && needsKey(item); round++) {
    try {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tables.deliveries,
          Key: { id: item.id },
          UpdateExpression: 'SET destStatusShard = :key',
          ConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':key': expectedKey(item), ':status': item.status },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    ({ Item: item } = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tables.deliveries, Key: { id: scanned.id }, ConsistentRead: true }),
    ));
  }
  // Gone, already right (its writer set the key), or still moving after three rounds: a writer
  // of this release sets the key with every status it writes.
  return false;
}
