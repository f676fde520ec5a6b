import http from 'node:http';

/**
 * What dynalite 4 lacks and the DynamoDB store uses: TransactWriteItems and UpdateTimeToLive /
 * DescribeTimeToLive, built on dynalite's own item calls. See dynalite.ts for why and how
 * faithful; the caller runs transactWrite under an exclusive lock.
 */

export type Json = Record<string, unknown>;

export class Reply {
  constructor(
    readonly status: number,
    readonly body: Json | string,
  ) {}

  get json(): Json {
    return typeof this.body === 'string' ? (JSON.parse(this.body || '{}') as Json) : this.body;
  }

  get errorType(): string | undefined {
    return this.status === 200 ? undefined : String(this.json.__type ?? '').split('#').pop();
  }

  write(res: http.ServerResponse): void {
    if (res.destroyed) return; // the front server was disconnected meanwhile
    const text = typeof this.body === 'string' ? this.body : JSON.stringify(this.body);
    res.writeHead(this.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

/** Forwards one call to dynalite, as the SDK sent it (dynalite checks the auth header's shape only). */
export function send(
  agent: http.Agent,
  port: number,
  target: string,
  payload: string | Json,
  headers: http.IncomingHttpHeaders,
): Promise<Reply> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': target,
          authorization: headers.authorization,
          'x-amz-date': headers['x-amz-date'],
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(new Reply(res.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

type Call = (target: string, payload: Json, headers: http.IncomingHttpHeaders) => Promise<Reply>;

/** The operations dynalite lacks. */
export class Shim {
  private readonly keyNames = new Map<string, string[]>();
  private readonly ttl = new Map<string, string>();

  constructor(private readonly call: Call) {}

  static handles(operation: string): boolean {
    return ['TransactWriteItems', 'UpdateTimeToLive', 'DescribeTimeToLive'].includes(operation);
  }

  async handle(operation: string, target: string, input: Json, headers: http.IncomingHttpHeaders): Promise<Reply> {
    const api = target.split('.')[0]!;
    const call = (op: string, payload: Json) => this.call(`${api}.${op}`, payload, headers);
    if (operation === 'TransactWriteItems') return this.transactWrite(input, call);
    const tableName = String(input.TableName);
    const described = await call('DescribeTable', { TableName: tableName });
    if (described.status !== 200) return described;
    if (operation === 'UpdateTimeToLive') {
      const spec = input.TimeToLiveSpecification as { Enabled: boolean; AttributeName: string };
      if (spec.Enabled && this.ttl.has(tableName)) return validation('TimeToLive is already enabled');
      if (spec.Enabled) this.ttl.set(tableName, spec.AttributeName);
      else this.ttl.delete(tableName);
      return new Reply(200, { TimeToLiveSpecification: spec });
    }
    const attribute = this.ttl.get(tableName);
    return new Reply(200, {
      TimeToLiveDescription: attribute ? { TimeToLiveStatus: 'ENABLED', AttributeName: attribute } : { TimeToLiveStatus: 'DISABLED' },
    });
  }

  /** Runs under the exclusive lock: nothing else reads or writes while it applies and undoes. */
  private async transactWrite(input: Json, call: (op: string, payload: Json) => Promise<Reply>): Promise<Reply> {
    const items = (input.TransactItems ?? []) as Array<Record<string, Json>>;
    if (items.length === 0 || items.length > 100) return validation('TransactItems must hold 1 to 100 items');
    const ops: Array<{ kind: string; op: Json; key: Json }> = [];
    for (const item of items) {
      const [kind, op] = Object.entries(item)[0]!;
      const names = await this.keysOf(String(op.TableName), call);
      const key = kind === 'Put' ? pick(op.Item as Json, names) : (op.Key as Json);
      ops.push({ kind, op, key });
    }
    const ids = ops.map(({ op, key }) => `${String(op.TableName)} ${JSON.stringify(Object.entries(key).sort())}`);
    if (new Set(ids).size !== ids.length) {
      return validation('Transaction request cannot include multiple operations on one item');
    }
    const before: Array<Json | undefined> = [];
    for (const { op, key } of ops) {
      const got = await call('GetItem', { TableName: op.TableName, Key: key, ConsistentRead: true });
      if (got.status !== 200) return got;
      before.push(got.json.Item as Json | undefined);
    }
    const restoreOne = async (i: number) => {
      const { op, key } = ops[i]!;
      const old = before[i];
      await (old ? call('PutItem', { TableName: op.TableName, Item: old }) : call('DeleteItem', { TableName: op.TableName, Key: key }));
    };
    const restore = async (count: number) => {
      for (let i = count - 1; i >= 0; i--) await restoreOne(i);
    };
    for (let i = 0; i < ops.length; i++) {
      const reply = await call(...single(ops[i]!));
      if (reply.status === 200) continue;
      await restore(i);
      if (reply.errorType !== 'ConditionalCheckFailedException') return reply;
      const reasons = ops.map((_, j) => (j === i ? { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } : { Code: 'None' }));
      return new Reply(400, {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        CancellationReasons: reasons,
      });
    }
    // ConditionCheck items were written to evaluate their condition: put them back.
    for (let i = 0; i < ops.length; i++) {
      if (ops[i]!.kind === 'ConditionCheck') await restoreOne(i);
    }
    return new Reply(200, {});
  }

  private async keysOf(tableName: string, call: (op: string, payload: Json) => Promise<Reply>): Promise<string[]> {
    let names = this.keyNames.get(tableName);
    if (!names) {
      const reply = await call('DescribeTable', { TableName: tableName });
      const table = reply.json.Table as { KeySchema?: Array<{ AttributeName: string }> } | undefined;
      names = (table?.KeySchema ?? []).map((k) => k.AttributeName);
      this.keyNames.set(tableName, names);
    }
    return names;
  }
}

/** The single-item call that applies one transaction item, with its condition. */
function single({ kind, op }: { kind: string; op: Json }): [string, Json] {
  const common = {
    TableName: op.TableName,
    ConditionExpression: op.ConditionExpression,
    ExpressionAttributeNames: op.ExpressionAttributeNames,
    ExpressionAttributeValues: op.ExpressionAttributeValues,
  };
  if (kind === 'Put') return ['PutItem', { ...common, Item: op.Item }];
  if (kind === 'Delete') return ['DeleteItem', { ...common, Key: op.Key }];
  if (kind === 'Update') return ['UpdateItem', { ...common, Key: op.Key, UpdateExpression: op.UpdateExpression }];
  // ConditionCheck: a throwaway write evaluates the condition; transactWrite undoes it.
  return [
    'UpdateItem',
    {
      ...common,
      Key: op.Key,
      UpdateExpression: 'SET #shimCheck = :shimCheck',
      ExpressionAttributeNames: { ...(op.ExpressionAttributeNames as Json), '#shimCheck': 'shimCheck' },
      ExpressionAttributeValues: { ...(op.ExpressionAttributeValues as Json), ':shimCheck': { BOOL: true } },
    },
  ];
}

function pick(item: Json, names: string[]): Json {
  return Object.fromEntries(names.map((name) => [name, item[name]]));
}

function validation(message: string): Reply {
  return new Reply(400, { __type: 'com.amazon.coral.validate#ValidationException', message });
}
