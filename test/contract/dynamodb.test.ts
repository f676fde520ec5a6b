import { DescribeTableCommand, DescribeTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { identityHash, leadFingerprints, leadIdentities } from '../../src/domain/fingerprint.js';
import { testHasher } from '../helpers/privacy.js';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStoreError } from '../../src/adapters/dynamodb/errors.js';
import { IN_FLIGHT_TAKEOVER_MS } from '../../src/adapters/dynamodb/ingest.js';
import { DynamoLeadStore } from '../../src/adapters/dynamodb/lead-store.js';
import { destStatusShard } from '../../src/adapters/dynamodb/items.js';
import { DEST_STATUS_SHARDS, INDEX, TABLE_NAMES } from '../../src/adapters/dynamodb/tables.js';
import { InvalidCursorError } from '../../src/ports/lead-store.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local.js';
import { attemptResult, deferred, listAll, makeIngest } from './fixtures.js';
import { describeLeadStoreContract } from './lead-store.contract.js';
import { describeLeadStoreOpsContract } from './lead-store-ops.contract.js';

let dynamo: DynamoDbLocal;
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});
afterAll(async () => {
  await dynamo?.stop();
});

// Every test gets its own tables: no state leaks between tests sharing the emulator.
let tablesMade = 0;
const newPrefix = (): string => `t${process.pid}-${++tablesMade}`;

async function dynamoStore() {
  const store = new DynamoLeadStore({ client: dynamo.client(), tablePrefix: newPrefix() });
  await store.migrate();
  return { store, cleanup: () => store.close() };
}

describeLeadStoreContract('dynamodb (DynamoDB Local)', dynamoStore, { expiresByTtl: true });
describeLeadStoreOpsContract('dynamodb (DynamoDB Local)', dynamoStore);

describe('dynamodb store: specifics', () => {
  const stores: DynamoLeadStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  function open(tablePrefix: string, options: { client?: DynamoDBClient; now?: () => number } = {}): DynamoLeadStore {
    const store = new DynamoLeadStore({ client: options.client ?? dynamo.client(), tablePrefix, ...(options.now ? { now: options.now } : {}) });
    stores.push(store);
    return store;
  }

  /** Raw access to the tables, to see what the store wrote or to plant a crashed request's key. */
  function raw(): DynamoDBDocumentClient {
    return DynamoDBDocumentClient.from(dynamo.client());
  }

  it('migrate creates every table and index, twice and from two stores at once, with TTL on keys', async () => {
    const prefix = newPrefix();
    const [a, b] = [open(prefix), open(prefix)];
    await Promise.all([a.migrate(), b.migrate()]);
    await a.migrate();
    const client = dynamo.client();
    for (const name of TABLE_NAMES) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: `${prefix}-${name}` }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    }
    const { Table } = await client.send(new DescribeTableCommand({ TableName: `${prefix}-deliveries` }));
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(Object.values(INDEX).sort());
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: `${prefix}-idempotency` }),
    );
    expect(TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAtSec' });
  });

  it('an idempotency record carries its TTL in epoch seconds; indexes keys are set only while pending', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    const command = makeIngest(['crm-main'], { key: 'k-ttl', expiresAt: Date.now() + 86_400_000 });
    await store.ingest(command);
    const { Item: key } = await raw().send(new GetCommand({ TableName: `${prefix}-idempotency`, Key: { pk: 'merciplus#k-ttl' } }));
    expect(key).toMatchObject({ state: 'done', leadId: command.lead.id, expiresAtSec: Math.ceil(command.idempotency!.expiresAt / 1000) });

    const id = command.deliveries[0]!.id;
    const deliveryItem = async () =>
      (await raw().send(new GetCommand({ TableName: `${prefix}-deliveries`, Key: { id } }))).Item!;
    expect(await deliveryItem()).toMatchObject({
      pendingShard: expect.stringMatching(/^p#\d+$/),
      destStatus: 'crm-main#pending',
      destStatusShard: expect.stringMatching(/^crm-main#pending#\d+$/),
    });
    await store.recordAttempt(attemptResult(id, 1, 'delivered'));
    const delivered = await deliveryItem();
    expect(delivered.destStatus).toBe('crm-main#delivered');
    expect(delivered.destStatusShard).toBe(destStatusShard('crm-main', 'delivered', id));
    // Absent, not NULL: the due index stays sparse and its number-typed key is never NULL.
    expect(delivered).not.toHaveProperty('pendingShard');
    expect(delivered).not.toHaveProperty('nextAttemptAt');
  });

  it('one destination spreads over every shard; its list merges them in id order, page after page', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    const ids: string[] = [];
    const shardsUsed = new Set<string>();
    // Random ids: as many as it takes to fill every shard (about 22 on average), at least 30.
    while ((ids.length < 30 || shardsUsed.size < DEST_STATUS_SHARDS) && ids.length < 400) {
      const command = makeIngest(['crm-main']);
      await store.ingest(command);
      ids.push(command.deliveries[0]!.id);
      shardsUsed.add(destStatusShard('crm-main', 'pending', command.deliveries[0]!.id));
    }
    expect(shardsUsed.size).toBe(DEST_STATUS_SHARDS);
    for (const shard of shardsUsed) {
      const { Count } = await raw().send(
        new QueryCommand({
          TableName: `${prefix}-deliveries`,
          IndexName: INDEX.byDestinationStatusShard,
          KeyConditionExpression: 'destStatusShard = :k',
          ExpressionAttributeValues: { ':k': shard },
          Select: 'COUNT',
        }),
      );
      expect(Count).toBeLessThan(ids.length);
    }
    const sorted = [...ids].sort();
    for (const limit of [1, 3, 8, ids.length - 1, ids.length]) {
      const listed = await listAll(store, { destination: 'crm-main', status: 'pending' }, limit);
      expect(listed.ids).toEqual(sorted);
      expect(listed.sizes.slice(0, -1).every((size) => size === limit)).toBe(true);
      expect(listed.pages).toBe(Math.ceil(ids.length / limit));
    }
    expect((await listAll(store, { destination: 'crm-main' }, 7)).ids).toEqual(sorted);
    expect(await store.stats()).toEqual([
      { destination: 'crm-main', pending: ids.length, dead: 0, oldestPendingCreatedAt: (await store.getDelivery(sorted[0]!))!.createdAt },
    ]);
  });

  it('a duplicate fingerprint is written with the lead, keyed by digest, with the window end as TTL', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    const { TimeToLiveDescription } = await dynamo.client().send(
      new DescribeTimeToLiveCommand({ TableName: `${prefix}-fingerprints` }),
    );
    expect(TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAtSec' });
    const command = makeIngest(['crm-main']);
    const fingerprint = 'a'.repeat(64);
    command.fingerprints = { values: [fingerprint], expiresAt: Date.now() + 3_600_000 };
    await store.ingest(command);
    const receivedAt = Date.parse(command.lead.received_at);
    const { Item } = await raw().send(new GetCommand({ TableName: `${prefix}-fingerprints`, Key: { fingerprint, receivedAt } }));
    expect(Item).toEqual({ fingerprint, receivedAt, leadId: command.lead.id, expiresAtSec: Math.ceil(command.fingerprints.expiresAt / 1000) });
  });

  it('every item written for a lead carries the retention TTL (expiresAtSec), and TTL is on for those tables', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    for (const table of ['leads', 'deliveries', 'attempts', 'identities']) {
      const { TimeToLiveDescription } = await dynamo.client().send(new DescribeTimeToLiveCommand({ TableName: `${prefix}-${table}` }));
      expect(TimeToLiveDescription, table).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAtSec' });
    }
    const command = makeIngest(['crm-main'], { key: 'k-ttl-2' });
    command.retainUntil = Date.now() + 90 * 86_400_000;
    command.identities = [identityHash(testHasher, { kind: 'email', value: 'camille.martin@example.fr' })];
    await store.ingest(command);
    await store.recordAttempt(attemptResult(command.deliveries[0]!.id, 1, 'pending', Date.now() + 60_000));
    const ttl = Math.ceil(command.retainUntil / 1000);
    const scan = async (table: string) => (await raw().send(new ScanCommand({ TableName: `${prefix}-${table}` }))).Items ?? [];
    for (const table of ['leads', 'deliveries', 'attempts', 'identities']) {
      const items = await scan(table);
      expect(items.length, table).toBeGreaterThan(0);
      for (const item of items) expect(item.expiresAtSec, table).toBe(ttl);
    }
    // The idempotency record keeps its own, shorter TTL (24 h).
    expect((await scan('idempotency'))[0]?.expiresAtSec).toBe(Math.ceil(command.idempotency!.expiresAt / 1000));
  });

  it('after an erasure, a scan of every table finds no byte of the person', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    const person = { first_name: 'Camille', last_name: 'Quintavalle', email: 'camille.quintavalle@example.fr', phone: '+33612345678' };
    const identities = leadIdentities(testHasher, { contact: person });
    const commands = [
      makeIngest(['crm-a', 'crm-b'], { key: 'erase-1', lead: { contact: person } }),
      makeIngest(['crm-b'], { lead: { brand: 'babychou', contact: person, message: 'Rappelez Camille Quintavalle au 06 12 34 56 78' } }),
      makeIngest(['crm-a'], { lead: { contact: person } }),
    ];
    for (const command of commands) {
      command.identities = identities;
      command.fingerprints = { values: leadFingerprints(testHasher, command.lead.brand, command.lead), expiresAt: Date.now() + 86_400_000 };
      await store.ingest(command);
    }
    const stranger = makeIngest(['crm-a'], { lead: { contact: { last_name: 'Durand', email: 'paul.durand@example.fr' } } });
    stranger.identities = leadIdentities(testHasher, stranger.lead);
    await store.ingest(stranger);
    await store.recordAttempt(attemptResult(commands[0]!.deliveries[0]!.id, 1, 'delivered'));
    const failed = attemptResult(commands[1]!.deliveries[0]!.id, 1, 'pending', Date.now() + 60_000);
    failed.attempt.responseBody = 'rejected camille.quintavalle@example.fr'; // as an older release kept it
    await store.recordAttempt(failed);
    await store.recordPrivacyAudit({ id: uuidv7(), at: Date.now(), action: 'export', actor: 'cli', identity: identities[0]!, brand: null, leads: 3, erasureId: null });

    const erasureId = uuidv7();
    await store.createErasure({ id: erasureId, identities: [identities[1]!], brand: null, requestedAt: Date.now() });
    const { runErasure } = await import('../../src/privacy/erasure-runner.js');
    const enqueued: string[] = [];
    await runErasure(
      { store, queue: { enqueue: async (jobs: Array<{ deliveryId: string }>) => void enqueued.push(...jobs.map((j) => j.deliveryId)) } as never, logger: { info: () => {}, warn: () => {} }, now: Date.now, batchSize: 2 },
      (await store.getErasure(erasureId))!,
    );
    expect(await store.getErasure(erasureId)).toMatchObject({ status: 'done', leads: 3 });
    expect(enqueued).toHaveLength(2); // crm-a for the delivered lead, crm-b for the attempted one

    let all = '';
    for (const name of TABLE_NAMES) {
      const items = (await raw().send(new ScanCommand({ TableName: `${prefix}-${name}` }))).Items ?? [];
      all += JSON.stringify(items);
    }
    for (const needle of ['camille.quintavalle@example.fr', 'Quintavalle', 'quintavalle', '+33612345678', '0612345678', '06 12 34 56 78', '612345678']) {
      expect(all.includes(needle), `"${needle}" is still in a table`).toBe(false);
    }
    expect(all).toContain('paul.durand@example.fr'); // the scan does see data: the check can fail
  });

  it('two stores on the same tables racing one Idempotency-Key create one lead', async () => {
    const prefix = newPrefix();
    const [a, b] = [open(prefix), open(prefix)];
    await a.migrate();
    for (let round = 0; round < 10; round++) {
      const key = `race-${round}`;
      const commands = [a, b, a, b].map(() => makeIngest(['crm-main'], { key }));
      const results = await Promise.all(commands.map((c, i) => (i % 2 ? b : a).ingest(c)));
      const created = results.filter((r) => r.kind === 'created');
      expect(created).toHaveLength(1);
      const winner = created[0]!.kind === 'created' ? created[0]!.leadId : '';
      for (const r of results) {
        expect(['created', 'replayed', 'in_flight']).toContain(r.kind);
        if (r.kind === 'replayed') expect(r.leadId).toBe(winner);
      }
      const existing = await Promise.all(commands.map((c) => a.getLead(c.lead.id)));
      expect(existing.filter(Boolean)).toHaveLength(1);
      expect(await b.ingest(makeIngest(['crm-main'], { key }))).toEqual({ kind: 'replayed', leadId: winner });
    }
  });

  it('an in-flight key older than the takeover age is taken over; a recent one answers in_flight', async () => {
    const prefix = newPrefix();
    const store = open(prefix);
    await store.migrate();
    const plant = (key: string, startedAt: number) =>
      raw().send(
        new PutCommand({
          TableName: `${prefix}-idempotency`,
          Item: { pk: `merciplus#${key}`, state: 'in_flight', bodyHash: 'hash-a', leadId: uuidv7(), startedAt, expiresAt: Date.now() + 86_400_000, expiresAtSec: 0 },
        }),
      );
    await plant('crashed', Date.now() - IN_FLIGHT_TAKEOVER_MS - 1_000);
    await plant('running', Date.now() - 1_000);

    const retry = makeIngest(['crm-main'], { key: 'crashed' });
    expect(await store.ingest(retry)).toEqual({ kind: 'created', leadId: retry.lead.id });
    expect(await store.ingest(makeIngest(['crm-main'], { key: 'crashed' }))).toEqual({ kind: 'replayed', leadId: retry.lead.id });
    expect(await store.ingest(makeIngest(['crm-main'], { key: 'crashed', bodyHash: 'hash-b' }))).toEqual({ kind: 'key_reused' });

    const early = makeIngest(['crm-main'], { key: 'running' });
    expect(await store.ingest(early)).toEqual({ kind: 'in_flight' });
    expect(await store.getLead(early.lead.id)).toBeNull();
  });

  it('a request overtaken while stalled before its transaction creates nothing', async () => {
    const prefix = newPrefix();
    // Store a's transactions wait on a gate: its api is "stalled" between claim and write.
    const gate = deferred();
    const stalled = deferred();
    const slowClient = dynamo.client();
    slowClient.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { TransactItems?: unknown }).TransactItems) {
          stalled.resolve();
          await gate.promise;
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const a = open(prefix, { client: slowClient });
    // Store b's clock is past the takeover age, so it sees a's claim as a crashed request's.
    const b = open(prefix, { now: () => Date.now() + IN_FLIGHT_TAKEOVER_MS + 1_000 });
    await a.migrate();
    const slow = makeIngest(['crm-main'], { key: 'k-stall' });
    const fast = makeIngest(['crm-main'], { key: 'k-stall' });
    const slowResult = a.ingest(slow);
    await stalled.promise;
    expect(await b.ingest(fast)).toEqual({ kind: 'created', leadId: fast.lead.id });
    gate.resolve();
    expect(['in_flight', 'replayed']).toContain((await slowResult).kind);
    expect(await a.getLead(slow.lead.id)).toBeNull();
    expect(await a.listDeliveriesOfLead(slow.lead.id)).toEqual([]);
  });

  it('a cursor of another filter is refused', async () => {
    const store = open(newPrefix());
    await store.migrate();
    for (let i = 0; i < 3; i++) await store.ingest(makeIngest(['crm-main', 'callcenter']));
    const byDestination = await store.listDeliveries({ destination: 'crm-main', limit: 1 });
    const scan = await store.listDeliveries({ limit: 1 });
    await expect(store.listDeliveries({ destination: 'callcenter', limit: 1, cursor: byDestination.nextCursor! })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(store.listDeliveries({ status: 'dead', limit: 1, cursor: scan.nextCursor! })).rejects.toBeInstanceOf(InvalidCursorError);
    const forged = Buffer.from(JSON.stringify({ v: 1, k: { id: 7 } })).toString('base64url');
    await expect(store.listDeliveries({ limit: 1, cursor: forged })).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it('unreachable: calls fail with a data-free DynamoStoreError, and work again once it is back', async () => {
    // DynamoDB Local is killed, then restarted on the same port with its data. The SDK's default
    // retries: after an outage, the first calls may meet pooled sockets the outage cut, and a
    // retry on a new connection is what a production client does too.
    const store = open(newPrefix());
    await store.migrate();
    const command = makeIngest(['crm-main']);
    await dynamo.kill();
    try {
      const error = await store.ingest(command).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(DynamoStoreError);
      const text = `${(error as Error).message} ${JSON.stringify(error)}`;
      for (const personal of [command.lead.contact.email!, command.lead.contact.phone!, command.lead.message!]) {
        expect(text).not.toContain(personal);
      }
      await expect(store.ping()).rejects.toBeInstanceOf(DynamoStoreError);
    } finally {
      await dynamo.restart();
    }
    await expect(store.ping()).resolves.toBeUndefined();
    expect(await store.ingest(command)).toEqual({ kind: 'created', leadId: command.lead.id });
  });

  it('transactions are all or nothing, with a cancellation reason per item', async () => {
    const prefix = newPrefix();
    await open(prefix).migrate();
    const id = uuidv7();
    const attempt = raw().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: `${prefix}-leads`, Item: { id, data: '{}' } } },
          { Update: { TableName: `${prefix}-deliveries`, Key: { id }, UpdateExpression: 'SET x = :x', ConditionExpression: 'attribute_exists(id)', ExpressionAttributeValues: { ':x': 1 } } },
        ],
      }),
    );
    await expect(attempt).rejects.toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
    });
    expect((await raw().send(new GetCommand({ TableName: `${prefix}-leads`, Key: { id } }))).Item).toBeUndefined();
  });
});
