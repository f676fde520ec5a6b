import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { errorName } from './errors.js';
import { loadTableDefinitions, TABLE_NAMES, type TableDefinition } from './tables.js';

/** How long migrate waits for a table or index to become ACTIVE (real index backfills can be slow). */
const ACTIVE_TIMEOUT_MS = 15 * 60_000;

/**
 * Creates the missing tables and indexes and turns TTL on, from tables.json; idempotent and safe
 * to run from several processes at once (a table or index another process is creating counts as
 * created, and is waited for). It only adds: it never drops or rebuilds anything.
 */
export async function migrateTables(client: DynamoDBClient, tables: Record<string, string>): Promise<void> {
  const definitions = loadTableDefinitions();
  await Promise.all(
    TABLE_NAMES.map(async (name) => {
      const tableName = tables[name]!;
      const definition = definitions[name];
      await createTable(client, tableName, definition);
      await addMissingIndexes(client, tableName, definition);
      if (definition.timeToLiveAttribute) await enableTimeToLive(client, tableName, definition.timeToLiveAttribute);
    }),
  );
}

async function createTable(client: DynamoDBClient, tableName: string, definition: TableDefinition): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ ...definition.create, TableName: tableName }));
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error; // it exists: fine
  }
  await waitUntilActive(client, tableName);
}

/** DynamoDB creates one GSI per UpdateTable call, and each must be ACTIVE before the next. */
async function addMissingIndexes(client: DynamoDBClient, tableName: string, definition: TableDefinition): Promise<void> {
  for (const index of definition.create.GlobalSecondaryIndexes ?? []) {
    const table = await describe(client, tableName);
    if (table.GlobalSecondaryIndexes?.some((gsi) => gsi.IndexName === index.IndexName)) continue;
    try {
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: definition.create.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: index }],
        }),
      );
    } catch (error) {
      // Another process is adding it (or another change): wait, then look again.
      if (errorName(error) !== 'ResourceInUseException' && errorName(error) !== 'LimitExceededException') throw error;
    }
    await waitUntilActive(client, tableName);
  }
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string, attribute: string): Promise<void> {
  const isOn = async () => {
    const { TimeToLiveDescription: ttl } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    return (ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING') && ttl.AttributeName === attribute;
  };
  if (await isOn()) return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { Enabled: true, AttributeName: attribute },
      }),
    );
  } catch (error) {
    // A concurrent migrate enabled it first ("TimeToLive is already enabled").
    if (errorName(error) !== 'ValidationException' || !(await isOn())) throw error;
  }
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table) throw new Error(`DescribeTable returned no table for ${tableName}`);
  return Table;
}

/** Polls DescribeTable with a growing delay (50 ms to 2 s) until the table and its indexes are ACTIVE. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (let delay = 50; ; delay = Math.min(delay * 2, 2_000)) {
    const table = await describe(client, tableName);
    const indexesActive = (table.GlobalSecondaryIndexes ?? []).every((gsi) => gsi.IndexStatus === 'ACTIVE');
    if (table.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE in time`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
