import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Lead } from '../../domain/lead.js';
import type { IngestCommand, IngestResult } from '../../ports/lead-store.js';
import type { DynamoContext } from './context.js';
import { cancellationCodes, DynamoStoreError, isConditionalCheckFailed } from './errors.js';
import { IDEMPOTENCY_TTL_ATTRIBUTE } from './tables.js';
import { fingerprintPuts } from './fingerprints.js';
import { expiresAtSec, idempotencyKey, leadItem, newDeliveryItem, type Item } from './items.js';

/**
 * An `in_flight` key older than this belongs to a request whose api died before its
 * transaction: a retry may take it over. Far above any real ingest (tens of ms), so a slow but
 * live request is never overtaken in practice; if it is, its transaction fails on the key's
 * condition and it answers in_flight, so still only one lead is created.
 */
export const IN_FLIGHT_TAKEOVER_MS = 60_000;

/**
 * TransactWriteItems takes at most 100 items: the lead, its deliveries, the key, the
 * duplicate fingerprints and the identity items (an email and a phone: two each at most).
 */
export const MAX_DELIVERIES_PER_LEAD = 94;

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * The lead and its deliveries are written in one transaction; with an Idempotency-Key, the key
 * is first claimed with a conditional put (`in_flight`), and marked `done` inside that same
 * transaction, conditional on the claim still being ours. So a key is `done` exactly when its
 * lead exists, across any number of api instances, and no crash leaves a lead without its key.
 */
export async function ingest(ctx: DynamoContext, command: IngestCommand): Promise<IngestResult> {
  const { lead, deliveries, idempotency, fingerprints, retainUntil } = command;
  const identities = [...new Set(command.identities ?? [])];
  if (deliveries.length > MAX_DELIVERIES_PER_LEAD) {
    throw new DynamoStoreError(
      `a lead fans out to at most ${MAX_DELIVERIES_PER_LEAD} destinations on DynamoDB`,
      'TooManyDeliveries',
    );
  }
  const now = ctx.now();
  const receivedAt = receivedAtMs(lead, now);
  const writes: TransactItems = [
    {
      Put: {
        TableName: ctx.tables.leads,
        Item: leadItem(lead, receivedAt, now, {
          retainUntil,
          identities,
          fingerprints: fingerprints ? [...new Set(fingerprints.values)] : undefined,
          idempotencyPk: idempotency ? idempotencyKey(lead.brand, idempotency.key) : undefined,
        }),
        ConditionExpression: 'attribute_not_exists(id)',
      },
    },
    ...deliveries.map((delivery) => ({
      Put: {
        TableName: ctx.tables.deliveries,
        Item: newDeliveryItem(lead.id, delivery, receivedAt, now, { retainUntil }),
        ConditionExpression: 'attribute_not_exists(id)',
      },
    })),
    ...(fingerprints ? fingerprintPuts(ctx, lead.id, receivedAt, fingerprints) : []),
    ...identities.map((identity) => ({
      Put: { TableName: ctx.tables.identities, Item: { identity, leadId: lead.id, brand: lead.brand, expiresAtSec: expiresAtSec(retainUntil) } },
    })),
  ];
  if (!idempotency) {
    await transact(ctx, writes, lead.id);
    return { kind: 'created', leadId: lead.id };
  }

  const pk = idempotencyKey(lead.brand, idempotency.key);
  const claim = await claimKey(ctx, pk, lead.id, idempotency);
  if (claim) return claim;
  const markDone: TransactItems[number] = {
    Update: {
      TableName: ctx.tables.idempotency,
      Key: { pk },
      UpdateExpression: 'SET #state = :done',
      ConditionExpression: '#state = :inFlight AND leadId = :leadId',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':done': 'done', ':inFlight': 'in_flight', ':leadId': lead.id },
    },
  };
  try {
    await transact(ctx, [...writes, markDone], lead.id);
    return { kind: 'created', leadId: lead.id };
  } catch (error) {
    if (cancellationCodes(error)?.[writes.length] === 'ConditionalCheckFailed') {
      // Another request took the key over while we were slower than the takeover age.
      return (await readKey(ctx, pk, idempotency.bodyHash, ctx.now())) ?? { kind: 'in_flight' };
    }
    // Free the key so the client's retry is not answered in_flight for a minute. If the
    // transaction did commit after all, the key is done and this conditional delete is a no-op.
    await ctx.doc
      .send(
        new DeleteCommand({
          TableName: ctx.tables.idempotency,
          Key: { pk },
          ConditionExpression: '#state = :inFlight AND leadId = :leadId',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':inFlight': 'in_flight', ':leadId': lead.id },
        }),
      )
      .catch(() => undefined);
    throw error;
  }
}

interface Idempotency {
  key: string;
  bodyHash: string;
  expiresAt: number;
}

/**
 * Claims the key for `leadId`: resolves null once claimed, else the answer for the client. A
 * few rounds, because the record can expire, be released or be taken over between our calls.
 */
async function claimKey(
  ctx: DynamoContext,
  pk: string,
  leadId: string,
  idempotency: Idempotency,
): Promise<IngestResult | null> {
  for (let round = 0; round < 3; round++) {
    const now = ctx.now();
    const expiresAtSec = Math.ceil(idempotency.expiresAt / 1000);
    const claim = {
      pk,
      state: 'in_flight',
      bodyHash: idempotency.bodyHash,
      leadId,
      startedAt: now,
      expiresAt: idempotency.expiresAt,
      // DynamoDB's TTL deletes the record some time after this (epoch seconds); until it does,
      // the condition on expiresAt treats an expired record as absent.
      [IDEMPOTENCY_TTL_ATTRIBUTE]: expiresAtSec,
    };
    try {
      await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tables.idempotency,
          Item: claim,
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return null;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const existing = await getKey(ctx, pk);
    if (!existing || (existing.expiresAt as number) <= now) continue;
    const answer = keyAnswer(existing, idempotency.bodyHash, now);
    if (answer) return answer;
    // A stale in_flight claim with our body: its request died. Take it over, conditional on
    // the record being the one we just read, so only one of several retries wins.
    try {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tables.idempotency,
          Key: { pk },
          UpdateExpression: 'SET leadId = :leadId, startedAt = :now, expiresAt = :expiresAt, #ttl = :sec',
          ConditionExpression: '#state = :inFlight AND leadId = :oldLeadId AND startedAt = :oldStartedAt',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': IDEMPOTENCY_TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':leadId': leadId,
            ':now': now,
            ':expiresAt': claim.expiresAt,
            ':sec': expiresAtSec,
            ':inFlight': 'in_flight',
            ':oldLeadId': existing.leadId,
            ':oldStartedAt': existing.startedAt,
          },
        }),
      );
      return null;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
  // The record kept changing under us: the client may retry.
  return { kind: 'in_flight' };
}

/** What an existing, unexpired record answers; null for a stale in_flight claim with our body. */
function keyAnswer(record: Item, bodyHash: string, now: number): IngestResult | null {
  if (record.bodyHash !== bodyHash) return { kind: 'key_reused' };
  if (record.state === 'done') return { kind: 'replayed', leadId: record.leadId as string };
  if (now - (record.startedAt as number) < IN_FLIGHT_TAKEOVER_MS) return { kind: 'in_flight' };
  return null;
}

async function readKey(ctx: DynamoContext, pk: string, bodyHash: string, now: number): Promise<IngestResult | null> {
  const record = await getKey(ctx, pk);
  return record ? keyAnswer(record, bodyHash, now) : null;
}

async function getKey(ctx: DynamoContext, pk: string): Promise<Item | undefined> {
  const { Item } = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tables.idempotency, Key: { pk }, ConsistentRead: true }),
  );
  return Item;
}

/**
 * The client request token makes the SDK's own retry of a transaction that did commit (a lost
 * response) succeed instead of failing on attribute_not_exists. Tokens are at most 36
 * characters, so it is a digest of the lead id rather than the id itself.
 */
async function transact(ctx: DynamoContext, items: TransactItems, leadId: string): Promise<void> {
  const token = createHash('sha256').update(leadId).digest('base64url').slice(0, 36);
  await ctx.doc.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }));
}

/** received_at is ISO 8601 set by leadgate; fall back to now rather than store NaN. */
function receivedAtMs(lead: Lead, now: number): number {
  const ms = Date.parse(lead.received_at);
  return Number.isFinite(ms) ? ms : now;
}
