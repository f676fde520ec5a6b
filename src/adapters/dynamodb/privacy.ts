import { GetCommand, PutCommand, QueryCommand, ScanCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Delivery, DeliveryStatus } from '../../domain/delivery.js';
import { newId } from '../../domain/ids.js';
import { tombstone, type Lead, type StoredLead } from '../../domain/lead.js';
import { summariseNotices, type Erasure, type ErasureStep, type NewErasure, type PrivacyAuditEntry } from '../../ports/privacy-store.js';
import type { DynamoContext } from './context.js';
import { cancellationCodes, DynamoStoreError, isConditionalCheckFailed } from './errors.js';
import { destStatus, newDeliveryItem, toDelivery, toLead, type Item } from './items.js';
import { INDEX } from './tables.js';

/**
 * The privacy operations on DynamoDB (ports/privacy-store.ts). A person's leads are found in
 * the `identities` table (identity hash → lead ids); each lead is erased by one transaction
 * that rewrites the lead as its tombstone, cancels its pending deliveries, writes the
 * `lead.erased` notices and deletes its identity, fingerprint and idempotency items, so a lead
 * is never half-erased. Records expire by TTL (`expiresAtSec`): there is no purge to run.
 */

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** Rounds of one lead's erasure when a delivery moved under it (a worker recorded an attempt). */
const CONFLICT_ROUNDS = 5;

async function queryAll(ctx: DynamoContext, input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await ctx.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function scanAll(ctx: DynamoContext, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await ctx.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Lead ids under these identities (of `brand`), from the identities table: queries, no scan. */
async function leadIdsOf(ctx: DynamoContext, identities: string[], brand: string | null, limit = Infinity): Promise<string[]> {
  const ids = new Set<string>();
  for (const identity of identities) {
    const items = await queryAll(ctx, {
      TableName: ctx.tables.identities,
      KeyConditionExpression: '#identity = :identity',
      ExpressionAttributeNames: { '#identity': 'identity' },
      ExpressionAttributeValues: { ':identity': identity },
      ConsistentRead: true,
    });
    for (const item of items) if (brand === null || item.brand === brand) ids.add(item.leadId as string);
  }
  return [...ids].sort().slice(0, limit);
}

async function getLeadItem(ctx: DynamoContext, id: string): Promise<Item | undefined> {
  const { Item } = await ctx.doc.send(new GetCommand({ TableName: ctx.tables.leads, Key: { id }, ConsistentRead: true }));
  return Item;
}

export async function findLeadsByIdentity(ctx: DynamoContext, identities: string[], brand?: string): Promise<StoredLead[]> {
  const ids = await leadIdsOf(ctx, identities, brand ?? null);
  const items = await Promise.all(ids.map((id) => getLeadItem(ctx, id)));
  return items
    .filter((item): item is Item => item !== undefined)
    .map(toLead)
    .sort((a, b) => a.received_at.localeCompare(b.received_at) || (a.id < b.id ? -1 : 1));
}

export async function createErasure(ctx: DynamoContext, erasure: NewErasure): Promise<void> {
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tables.erasures,
        Item: { id: erasure.id, identities: erasure.identities, brand: erasure.brand ?? undefined, status: 'pending', leads: 0, requestedAt: erasure.requestedAt },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

export async function getErasure(ctx: DynamoContext, id: string): Promise<Erasure | null> {
  const { Item } = await ctx.doc.send(new GetCommand({ TableName: ctx.tables.erasures, Key: { id }, ConsistentRead: true }));
  return Item ? toErasure(ctx, Item) : null;
}

async function toErasure(ctx: DynamoContext, item: Item): Promise<Erasure> {
  const notices = await queryAll(ctx, {
    TableName: ctx.tables.deliveries,
    IndexName: INDEX.byErasure,
    KeyConditionExpression: 'erasureId = :id',
    ExpressionAttributeValues: { ':id': item.id },
  });
  return {
    id: item.id as string,
    identities: item.identities as string[],
    brand: (item.brand as string | undefined) ?? null,
    requestedAt: item.requestedAt as number,
    status: item.status as Erasure['status'],
    leads: item.leads as number,
    completedAt: (item.completedAt as number | undefined) ?? null,
    notified: summariseNotices(notices.map((n) => ({ destination: n.destination as string, status: n.status as DeliveryStatus, count: 1 }))),
  };
}

/** A scan of the erasures table: one small item per erasure ever requested. */
export async function pendingErasures(ctx: DynamoContext, limit: number): Promise<Erasure[]> {
  const pending = (await scanAll(ctx, ctx.tables.erasures))
    .filter((item) => item.status === 'pending')
    .sort((a, b) => (a.requestedAt as number) - (b.requestedAt as number))
    .slice(0, limit);
  return Promise.all(pending.map((item) => toErasure(ctx, item)));
}

export async function eraseNext(ctx: DynamoContext, erasureId: string, limit: number, now: number): Promise<ErasureStep> {
  const { Item: erasure } = await ctx.doc.send(new GetCommand({ TableName: ctx.tables.erasures, Key: { id: erasureId }, ConsistentRead: true }));
  if (!erasure || erasure.status === 'done') return { erased: 0, notices: [], done: true };
  const identities = erasure.identities as string[];
  const ids = await leadIdsOf(ctx, identities, (erasure.brand as string | undefined) ?? null, limit);
  const notices: Delivery[] = [];
  let erased = 0;
  for (const leadId of ids) {
    const step = await eraseLead(ctx, leadId, erasureId, identities, now);
    if (step === null) continue;
    erased += 1;
    notices.push(...step);
  }
  return { erased, notices, done: ids.length < limit };
}

/** One lead, in one transaction; null when it was erased already (its index items are cleared). */
async function eraseLead(ctx: DynamoContext, leadId: string, erasureId: string, identities: string[], now: number): Promise<Delivery[] | null> {
  for (let round = 0; round < CONFLICT_ROUNDS; round++) {
    const item = await getLeadItem(ctx, leadId);
    const indexKeys = [...new Set([...((item?.identities as string[] | undefined) ?? []), ...identities])];
    const deleteIdentities: TransactItems = indexKeys.map((identity) => ({ Delete: { TableName: ctx.tables.identities, Key: { identity, leadId } } }));
    if (!item || item.status === 'erased') {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: deleteIdentities }));
      return null;
    }
    const lead = toLead(item) as Lead;
    const deliveries = await queryAll(ctx, {
      TableName: ctx.tables.deliveries,
      IndexName: INDEX.byLead,
      KeyConditionExpression: 'leadId = :leadId',
      ExpressionAttributeValues: { ':leadId': leadId },
    });
    await clearResponses(ctx, deliveries);
    const created = deliveries.filter((d) => d.kind !== 'lead.erased');
    const received = [...new Set(created.filter((d) => d.status === 'delivered' || (d.attempts as number) > 0).map((d) => d.destination as string))].sort();
    const noticeItems = received.map((destination) =>
      newDeliveryItem(leadId, { id: newId(), destination }, now, now, { kind: 'lead.erased', erasureId, retainUntil: ttlMs(item) }),
    );
    const writes: TransactItems = [
      {
        Put: {
          TableName: ctx.tables.leads,
          Item: { id: leadId, brand: lead.brand, status: 'erased', receivedAt: item.receivedAt, createdAt: item.createdAt, data: JSON.stringify(tombstone(lead, now)), expiresAtSec: item.expiresAtSec },
          ConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': item.status },
        },
      },
      ...created
        .filter((d) => d.status === 'pending')
        .map((d) => ({
          Update: {
            TableName: ctx.tables.deliveries,
            Key: { id: d.id },
            UpdateExpression: 'SET #status = :cancelled, destStatus = :destStatus, updatedAt = :now REMOVE pendingShard, nextAttemptAt',
            ConditionExpression: '#status = :pending',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':cancelled': 'cancelled', ':pending': 'pending', ':destStatus': destStatus(d.destination as string, 'cancelled'), ':now': now },
          },
        })),
      ...noticeItems.map((notice) => ({ Put: { TableName: ctx.tables.deliveries, Item: notice, ConditionExpression: 'attribute_not_exists(id)' } })),
      ...deleteIdentities,
      ...((item.fingerprints as string[] | undefined) ?? []).map((fingerprint) => ({
        Delete: { TableName: ctx.tables.fingerprints, Key: { fingerprint, receivedAt: item.receivedAt } },
      })),
      ...(item.idempotencyPk ? [{ Delete: { TableName: ctx.tables.idempotency, Key: { pk: item.idempotencyPk } } }] : []),
      {
        Update: {
          TableName: ctx.tables.erasures,
          Key: { id: erasureId },
          UpdateExpression: 'ADD leads :one',
          ExpressionAttributeValues: { ':one': 1 },
        },
      },
    ];
    try {
      await ctx.doc.send(new TransactWriteCommand({ TransactItems: writes }));
      return noticeItems.map(toDelivery);
    } catch (error) {
      const codes = cancellationCodes(error);
      if (!codes || !codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict')) throw error;
      // A delivery moved (a worker recorded an attempt) or another runner erased it: read again.
    }
  }
  throw new DynamoStoreError('dynamodb eraseNext: the lead kept changing under concurrent writers', 'TransactionConflict');
}

function ttlMs(item: Item): number | undefined {
  return typeof item.expiresAtSec === 'number' ? item.expiresAtSec * 1000 : undefined;
}

/** Attempts' stored responses go before the lead: idempotent, so a crash in between is harmless. */
async function clearResponses(ctx: DynamoContext, deliveries: Item[]): Promise<void> {
  for (const delivery of deliveries) {
    const attempts = await queryAll(ctx, {
      TableName: ctx.tables.attempts,
      KeyConditionExpression: 'deliveryId = :id',
      ExpressionAttributeValues: { ':id': delivery.id },
      ConsistentRead: true,
    });
    for (const attempt of attempts.filter((a) => a.responseBody !== undefined)) {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tables.attempts,
          Key: { deliveryId: attempt.deliveryId, number: attempt.number },
          UpdateExpression: 'REMOVE responseBody',
        }),
      );
    }
  }
}

export async function completeErasure(ctx: DynamoContext, erasureId: string, now: number): Promise<boolean> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tables.erasures,
        Key: { id: erasureId },
        UpdateExpression: 'SET #status = :done, completedAt = :now',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':done': 'done', ':pending': 'pending', ':now': now },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
  // Items are rewritten in place: nothing else holds the old bytes that leadgate can reach.
  return true;
}

export async function recordPrivacyAudit(ctx: DynamoContext, entry: PrivacyAuditEntry): Promise<void> {
  await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tables.audit,
      Item: { ...entry, brand: entry.brand ?? undefined, leads: entry.leads ?? undefined, erasureId: entry.erasureId ?? undefined },
    }),
  );
}

/** A scan: the audit table is read by people answering an authority, not on any hot path. */
export async function listPrivacyAudit(ctx: DynamoContext, limit: number): Promise<PrivacyAuditEntry[]> {
  return (await scanAll(ctx, ctx.tables.audit))
    .map((item) => ({
      id: item.id as string,
      at: item.at as number,
      action: item.action as PrivacyAuditEntry['action'],
      actor: item.actor as string,
      identity: item.identity as string,
      brand: (item.brand as string | undefined) ?? null,
      leads: (item.leads as number | undefined) ?? null,
      erasureId: (item.erasureId as string | undefined) ?? null,
    }))
    .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
    .slice(0, limit);
}
