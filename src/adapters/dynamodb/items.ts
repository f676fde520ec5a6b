import type { Attempt, AttemptOutcome, Delivery, DeliveryKind, DeliveryStatus, ErrorClass, NewDelivery } from '../../domain/delivery.js';
import type { Lead, StoredLead } from '../../domain/lead.js';
import { DEST_STATUS_SHARDS, PENDING_SHARDS } from './tables.js';

/**
 * The one place where DynamoDB items become domain objects and back. Rule: a null is never
 * stored, the attribute is absent (REMOVE in updates), because a NULL in an index key attribute
 * (nextAttemptAt) is a type error for DynamoDB.
 */

export type Item = Record<string, unknown>;

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'dead', 'delivered', 'cancelled'];

/** The TTL attribute value (epoch seconds) of an item kept until `retainUntil` (epoch ms); absent when unknown. */
export function expiresAtSec(retainUntil: number | undefined): number | undefined {
  return retainUntil === undefined ? undefined : Math.ceil(retainUntil / 1000);
}

/**
 * Partition key of the old by-destination-status index, and the name of a destination-status
 * group in admin cursors. Still written (old instances during a rolling deploy read it).
 */
export function destStatus(destination: string, status: DeliveryStatus): string {
  return `${destination}#${status}`;
}

/**
 * Partition key of the by-destination-status-shard index: `<destination>#<status>#<shard>`, the
 * shard a hash of the delivery id, so one destination's deliveries spread over
 * DEST_STATUS_SHARDS partitions instead of one hot one.
 */
export function destStatusShard(destination: string, status: DeliveryStatus, deliveryId: string): string {
  return destStatusShardKey(destination, status, hashOf(deliveryId) % DEST_STATUS_SHARDS);
}

/** The key of one shard of a destination-status group (queries walk shards 0..DEST_STATUS_SHARDS-1). */
export function destStatusShardKey(destination: string, status: DeliveryStatus, shard: number): string {
  return `${destStatus(destination, status)}#${shard}`;
}

/** Partition key of the sparse due index: set only while pending, spread by a hash of the id. */
export function pendingShard(deliveryId: string): string {
  return shardKey(hashOf(deliveryId) % PENDING_SHARDS);
}

/** A stable 32-bit polynomial hash of an id: part of the data format (it places items in shards). */
function hashOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash;
}

export function shardKey(shard: number): string {
  return `p#${shard}`;
}

export function idempotencyKey(brand: string, key: string): string {
  // Brand ids are [a-z0-9-]+, so the first '#' always ends the brand.
  return `${brand}#${key}`;
}

/**
 * The lead as JSON text (it round-trips exactly whatever keys `meta` holds), and the keys of
 * the items written with it that an erasure must delete (hashes and the idempotency key only).
 */
export function leadItem(
  lead: Lead,
  receivedAt: number,
  now: number,
  extra: { retainUntil?: number; identities?: string[]; fingerprints?: string[]; idempotencyPk?: string } = {},
): Item {
  return {
    id: lead.id,
    brand: lead.brand,
    status: lead.status,
    receivedAt,
    createdAt: now,
    data: JSON.stringify(lead),
    expiresAtSec: expiresAtSec(extra.retainUntil),
    identities: extra.identities?.length ? extra.identities : undefined,
    fingerprints: extra.fingerprints?.length ? extra.fingerprints : undefined,
    idempotencyPk: extra.idempotencyPk,
  };
}

export function toLead(item: Item): StoredLead {
  return JSON.parse(item.data as string) as StoredLead;
}

export function newDeliveryItem(
  leadId: string,
  delivery: NewDelivery,
  dueAt: number,
  now: number,
  extra: { retainUntil?: number; kind?: DeliveryKind; erasureId?: string } = {},
): Item {
  return {
    kind: extra.kind === 'lead.erased' ? extra.kind : undefined,
    erasureId: extra.erasureId,
    expiresAtSec: expiresAtSec(extra.retainUntil),
    id: delivery.id,
    leadId,
    destination: delivery.destination,
    status: 'pending',
    destStatus: destStatus(delivery.destination, 'pending'),
    destStatusShard: destStatusShard(delivery.destination, 'pending', delivery.id),
    pendingShard: pendingShard(delivery.id),
    attempts: 0,
    cycleAttempts: 0,
    nextAttemptAt: dueAt,
    createdAt: now,
    updatedAt: now,
  };
}

export function toDelivery(item: Item): Delivery {
  return {
    id: item.id as string,
    leadId: item.leadId as string,
    destination: item.destination as string,
    status: item.status as DeliveryStatus,
    ...(item.kind === 'lead.erased' ? { kind: 'lead.erased' as const } : {}),
    attempts: item.attempts as number,
    cycleAttempts: item.cycleAttempts as number,
    lastStatusCode: (item.lastStatusCode as number | undefined) ?? null,
    lastError: (item.lastError as string | undefined) ?? null,
    nextAttemptAt: (item.nextAttemptAt as number | undefined) ?? null,
    deliveredAt: (item.deliveredAt as number | undefined) ?? null,
    createdAt: item.createdAt as number,
    updatedAt: item.updatedAt as number,
  };
}

export function attemptItem(attempt: Attempt, ttlSec?: number): Item {
  // undefined values are dropped by the DocumentClient (removeUndefinedValues).
  return {
    expiresAtSec: ttlSec,
    deliveryId: attempt.deliveryId,
    number: attempt.number,
    startedAt: attempt.startedAt,
    durationMs: attempt.durationMs,
    statusCode: attempt.statusCode ?? undefined,
    errorClass: attempt.errorClass ?? undefined,
    error: attempt.error ?? undefined,
    responseBody: attempt.responseBody ?? undefined,
    outcome: attempt.outcome,
  };
}

export function toAttempt(item: Item): Attempt {
  return {
    deliveryId: item.deliveryId as string,
    number: item.number as number,
    startedAt: item.startedAt as number,
    durationMs: item.durationMs as number,
    statusCode: (item.statusCode as number | undefined) ?? null,
    errorClass: (item.errorClass as ErrorClass | undefined) ?? null,
    error: (item.error as string | undefined) ?? null,
    responseBody: (item.responseBody as string | undefined) ?? null,
    outcome: item.outcome as AttemptOutcome,
  };
}

/**
 * An update that sets `values` and removes the attributes whose value is null, with
 * placeholder names for every attribute (several are reserved words: status, number, data).
 */
export function updateExpression(
  values: Record<string, unknown>,
  extra: { add?: string[] } = {},
): { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Item } {
  const names: Record<string, string> = {};
  const vals: Item = {};
  const set: string[] = [];
  const remove: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    names[`#${name}`] = name;
    if (value === null || value === undefined) {
      remove.push(`#${name}`);
    } else {
      vals[`:${name}`] = value;
      set.push(`#${name} = :${name}`);
    }
  }
  for (const name of extra.add ?? []) {
    // Counters: `attempts = attempts + 1` keeps concurrent-safe arithmetic on the server.
    names[`#${name}`] = name;
    vals[':one'] = 1;
    set.push(`#${name} = #${name} + :one`);
  }
  const parts = [];
  if (set.length) parts.push(`SET ${set.join(', ')}`);
  if (remove.length) parts.push(`REMOVE ${remove.join(', ')}`);
  return { UpdateExpression: parts.join(' '), ExpressionAttributeNames: names, ExpressionAttributeValues: vals };
}
