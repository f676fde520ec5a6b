import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLeadStore } from '../../src/adapters/dynamodb/lead-store.js';
import { BACKFILL_MARKER_ID } from '../../src/adapters/dynamodb/migrate-dest-status-shard.js';
import { INDEX, loadTableDefinitions, TABLE_NAMES } from '../../src/adapters/dynamodb/tables.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local.js';
import { attemptResult, listAll, makeIngest } from './fixtures.js';

/**
 * The upgrade of a table of the previous schema to the sharded destination-status index
 * (docs/operations.md, "DynamoDB: the sharded destination-status index"). Its own file, so its
 * own DynamoDB Local: the emulator's index creation slows down with everything the other
 * DynamoDB tests leave in a shared database.
 */

let dynamo: DynamoDbLocal;
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});
afterAll(async () => {
  await dynamo?.stop();
});

describe('dynamodb store: migration to by-destination-status-shard', () => {
  const stores: DynamoLeadStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const open = (tablePrefix: string) => {
    const store = new DynamoLeadStore({ client: dynamo.client(), tablePrefix });
    stores.push(store);
    return store;
  };
  const raw = () => DynamoDBDocumentClient.from(dynamo.client());
  const newPrefix = () => `m${process.pid}-${Date.now().toString(36)}`;

  it('migrate from the previous schema: adds the sharded index, backfills older deliveries, which are then listed, counted and replayed', async () => {
    const prefix = newPrefix();
    const client = dynamo.client();
    // The previous release's tables: tables.json without the sharded index and its key.
    const definitions = loadTableDefinitions();
    for (const name of TABLE_NAMES) {
      const create = structuredClone(definitions[name].create);
      if (name === 'deliveries') {
        create.GlobalSecondaryIndexes = create.GlobalSecondaryIndexes!.filter((i) => i.IndexName !== INDEX.byDestinationStatusShard);
        create.AttributeDefinitions = create.AttributeDefinitions!.filter((a) => a.AttributeName !== 'destStatusShard');
      }
      await client.send(new CreateTableCommand({ ...create, TableName: `${prefix}-${name}` }));
    }
    // Deliveries written the old way: as this release writes them, without destStatusShard.
    const store = open(prefix);
    const expected: Record<string, Record<'pending' | 'dead' | 'delivered', string[]>> = {};
    for (let i = 0; i < 20; i++) {
      const command = makeIngest(['crm-main', 'callcenter']);
      await store.ingest(command);
      for (const [n, d] of command.deliveries.entries()) {
        const status: 'pending' | 'dead' | 'delivered' = (i + n) % 3 === 0 ? 'dead' : (i + n) % 3 === 1 ? 'delivered' : 'pending';
        if (status !== 'pending') await store.recordAttempt(attemptResult(d.id, 1, status));
        expected[d.destination] ??= { pending: [], dead: [], delivered: [] };
        expected[d.destination]![status].push(d.id);
        await raw().send(
          new UpdateCommand({ TableName: `${prefix}-deliveries`, Key: { id: d.id }, UpdateExpression: 'REMOVE destStatusShard' }),
        );
      }
    }
    const indexNames = async () =>
      (await client.send(new DescribeTableCommand({ TableName: `${prefix}-deliveries` }))).Table!.GlobalSecondaryIndexes!.map((i) => [i.IndexName, i.IndexStatus]);
    expect(await indexNames()).not.toContainEqual([INDEX.byDestinationStatusShard, expect.anything()]);

    await store.migrate();
    expect(await indexNames()).toContainEqual([INDEX.byDestinationStatusShard, 'ACTIVE']);
    const marker = async () =>
      (await raw().send(new GetCommand({ TableName: `${prefix}-destinations`, Key: { id: BACKFILL_MARKER_ID } }))).Item;
    expect(await marker()).toMatchObject({ passes: 1 });

    const sortedIds = (ids: string[]) => [...ids].sort();
    for (const destination of ['crm-main', 'callcenter']) {
      for (const status of ['pending', 'dead', 'delivered'] as const) {
        expect((await listAll(store, { destination, status }, 3)).ids).toEqual(sortedIds(expected[destination]![status]));
      }
    }
    expect(sortedIds((await listAll(store, { status: 'dead' }, 4)).ids)).toEqual(
      sortedIds([...expected['crm-main']!.dead, ...expected.callcenter!.dead]),
    );
    const byDestination = (rows: Awaited<ReturnType<DynamoLeadStore['stats']>>) => [...rows].sort((a, b) => a.destination.localeCompare(b.destination));
    expect(byDestination(await store.stats())).toMatchObject([
      { destination: 'callcenter', pending: expected.callcenter!.pending.length, dead: expected.callcenter!.dead.length },
      { destination: 'crm-main', pending: expected['crm-main']!.pending.length, dead: expected['crm-main']!.dead.length },
    ]);

    // The previous release, still running during the rollout, moves a delivery after the first
    // pass: its destStatusShard stays "pending". Not listed as pending; listed as dead once the
    // second pass (the next migrate) has run.
    const late = expected['crm-main']!.pending.pop()!;
    await raw().send(
      new UpdateCommand({
        TableName: `${prefix}-deliveries`,
        Key: { id: late },
        UpdateExpression: 'SET #s = :dead, destStatus = :ds REMOVE pendingShard, nextAttemptAt',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':dead': 'dead', ':ds': 'crm-main#dead' },
      }),
    );
    expect((await listAll(store, { destination: 'crm-main', status: 'pending' }, 100)).ids).not.toContain(late);
    await store.migrate();
    expect(await marker()).toMatchObject({ passes: 2 });
    expected['crm-main']!.dead.push(late);
    expect((await listAll(store, { destination: 'crm-main', status: 'dead' }, 2)).ids).toEqual(sortedIds(expected['crm-main']!.dead));
    expect((await listAll(store, { destination: 'crm-main', status: 'pending' }, 2)).ids).toEqual(sortedIds(expected['crm-main']!.pending));

    // Later migrates read the marker and scan nothing more.
    await store.migrate();
    expect(await marker()).toMatchObject({ passes: 2 });

    const replayed = await store.replay({ destination: 'crm-main', status: 'dead' });
    expect(replayed.map((d) => d.id)).toEqual(sortedIds(expected['crm-main']!.dead));
    expect((await listAll(store, { destination: 'crm-main', status: 'dead' }, 5)).ids).toEqual([]);
    const after = byDestination(await store.stats());
    expect(after).toMatchObject([
      { destination: 'callcenter', dead: expected.callcenter!.dead.length },
      { destination: 'crm-main', pending: expected['crm-main']!.pending.length + expected['crm-main']!.dead.length, dead: 0 },
    ]);
  });

});
