import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The DynamoDB tables, read from migrations/dynamodb/tables.json: the one definition that
 * `leadgate migrate` creates and that the CloudFormation template is generated from. The JSON
 * lives outside src/ (tsc's rootDir) and ships with the package ("files": migrations), so it is
 * read at run time, like migrations/sqlite; this path is the same from src/ and dist/.
 */
const TABLES_FILE = fileURLToPath(new URL('../../../migrations/dynamodb/tables.json', import.meta.url));

export const TABLE_NAMES = ['leads', 'deliveries', 'attempts', 'idempotency', 'destinations', 'fingerprints', 'activity', 'identities', 'erasures', 'audit'] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** GSIs of the deliveries table; the names must match tables.json (checked by loadTableDefinitions). */
export const INDEX = {
  /** leadId + id: the deliveries of a lead. */
  byLead: 'by-lead',
  /** pendingShard + nextAttemptAt, sparse (pending only): what the sweeper must pick up. */
  due: 'due',
  /**
   * destStatus ("<destination>#<status>") + id: no longer read. Kept, and its key still written,
   * for instances of the previous release during a rolling deploy; dropped in a later release
   * (docs/operations.md, "DynamoDB: the sharded destination-status index").
   */
  byDestinationStatus: 'by-destination-status',
  /**
   * destStatusShard ("<destination>#<status>#<shard>") + id: admin lists, replay of dead
   * letters, stats; each query fans out over the DEST_STATUS_SHARDS shards and merges by id.
   */
  byDestinationStatusShard: 'by-destination-status-shard',
  /** erasureId + id, sparse: the `lead.erased` notices of one erasure. */
  byErasure: 'by-erasure',
} as const;

/** GSIs of the leads table. */
export const LEADS_INDEX = {
  /** brand + receivedAt: the console's lists and counts of a brand's leads. */
  byBrandReceived: 'by-brand-received',
} as const;

/**
 * Shards of each destination and status in by-destination-status-shard: a busy destination's
 * index writes spread over this many partitions (one takes about 1,000 writes/s), and every read
 * of a destination-status fans out over all of them. Part of the data format: raising it is safe
 * (reads walk every shard, old items stay in theirs), lowering it hides deliveries.
 */
export const DEST_STATUS_SHARDS = 8;

/**
 * Shards of the sparse `due` index. Spreads the writes of pending deliveries over this many
 * index partitions (one takes about 1,000 writes/s); findDue queries every shard. Part of the
 * data format: raising it is safe (new shards start empty), lowering it hides deliveries.
 */
export const PENDING_SHARDS = 8;

/** Epoch seconds after which DynamoDB's TTL may delete an idempotency record. */
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiresAtSec';

/** Epoch seconds after which DynamoDB's TTL may delete a duplicate fingerprint (the window's end). */
export const FINGERPRINT_TTL_ATTRIBUTE = 'expiresAtSec';

/** Epoch seconds after which DynamoDB's TTL may delete a minute of attempt counters. */
export const ACTIVITY_TTL_ATTRIBUTE = 'expiresAtSec';
/**
 * Epoch seconds after which DynamoDB's TTL may delete an item written for a lead: the lead's
 * received time + its brand's retention, on the lead, its deliveries, attempts and identity items.
 */
export const RETENTION_TTL_ATTRIBUTE = 'expiresAtSec';

/** Tables whose items expire with their lead's retention. */
const RETAINED_TABLES = ['leads', 'deliveries', 'attempts', 'identities'] as const;

export interface TableDefinition {
  /** CreateTable input without TableName (the prefix is a deployment setting). */
  create: Omit<CreateTableCommandInput, 'TableName'>;
  /** Attribute holding epoch seconds after which DynamoDB may delete the item. */
  timeToLiveAttribute?: string;
}

export type TableDefinitions = Record<TableName, TableDefinition>;

let cached: TableDefinitions | undefined;

/** Reads and checks tables.json once; throws naming the table when it is malformed. */
export function loadTableDefinitions(file: string = TABLES_FILE): TableDefinitions {
  if (file === TABLES_FILE && cached) return cached;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const name of TABLE_NAMES) {
    const table = parsed[name] as Partial<TableDefinition> | undefined;
    if (!table?.create?.KeySchema || !table.create.AttributeDefinitions) {
      throw new Error(`${file}: table "${name}" needs create.KeySchema and create.AttributeDefinitions`);
    }
  }
  const indexes = (parsed.deliveries as TableDefinition).create.GlobalSecondaryIndexes ?? [];
  for (const index of Object.values(INDEX)) {
    if (!indexes.some((gsi) => gsi.IndexName === index)) {
      throw new Error(`${file}: table "deliveries" lacks the index "${index}"`);
    }
  }
  const leadIndexes = (parsed.leads as TableDefinition).create.GlobalSecondaryIndexes ?? [];
  for (const index of Object.values(LEADS_INDEX)) {
    if (!leadIndexes.some((gsi) => gsi.IndexName === index)) {
      throw new Error(`${file}: table "leads" lacks the index "${index}"`);
    }
  }
  if ((parsed.activity as TableDefinition).timeToLiveAttribute !== ACTIVITY_TTL_ATTRIBUTE) {
    throw new Error(`${file}: table "activity" needs timeToLiveAttribute "${ACTIVITY_TTL_ATTRIBUTE}"`);
  }
  if ((parsed.idempotency as TableDefinition).timeToLiveAttribute !== IDEMPOTENCY_TTL_ATTRIBUTE) {
    throw new Error(`${file}: table "idempotency" needs timeToLiveAttribute "${IDEMPOTENCY_TTL_ATTRIBUTE}"`);
  }
  if ((parsed.fingerprints as TableDefinition).timeToLiveAttribute !== FINGERPRINT_TTL_ATTRIBUTE) {
    throw new Error(`${file}: table "fingerprints" needs timeToLiveAttribute "${FINGERPRINT_TTL_ATTRIBUTE}"`);
  }
  for (const name of RETAINED_TABLES) {
    if ((parsed[name] as TableDefinition).timeToLiveAttribute !== RETENTION_TTL_ATTRIBUTE) {
      throw new Error(`${file}: table "${name}" needs timeToLiveAttribute "${RETENTION_TTL_ATTRIBUTE}"`);
    }
  }
  const definitions = parsed as unknown as TableDefinitions;
  if (file === TABLES_FILE) cached = definitions;
  return definitions;
}

export function tableName(prefix: string, name: TableName): string {
  return `${prefix}-${name}`;
}
