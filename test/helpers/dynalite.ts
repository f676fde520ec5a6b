import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { Reply, send, Shim, type Json } from './dynalite-shim.js';

/**
 * DynamoDB for tests: dynalite (in memory, in this process) behind a small front server on its
 * own free port. The front server exists for two reasons:
 *
 * - dynalite 4 lacks TransactWriteItems and UpdateTimeToLive, which the DynamoDB store relies on.
 *   The front server implements them on top of dynalite's own item calls: a transaction takes an
 *   exclusive lock (every other call takes a shared one), applies its writes with their
 *   conditions one by one and, when one fails, puts the items it already changed back as they
 *   were and answers TransactionCanceledException with per-item CancellationReasons, as DynamoDB
 *   does. So transactions are all-or-nothing and isolated here too. One difference: DynamoDB
 *   reports every failed condition, this reports the first. TTL is recorded, not enforced
 *   (DynamoDB deletes expired items "within days", so the store never relies on it either).
 * - disconnect()/reconnect() make DynamoDB unreachable and come back on the same port with its
 *   data, for outage tests (closing dynalite itself would drop its in-memory data).
 */

const requireCjs = createRequire(import.meta.url);
const dynalite = requireCjs('dynalite') as (options: Record<string, unknown>) => http.Server;

export interface Dynalite {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A client for this endpoint (region eu-west-1, fake credentials); stop() destroys it. */
  client(overrides?: Partial<DynamoDBClientConfig>): DynamoDBClient;
  /** Close the endpoint, cutting open connections: calls fail (ECONNREFUSED, or ECONNRESET on a pooled socket). Data is kept. */
  disconnect(): Promise<void>;
  /** Listen again on the same port. */
  reconnect(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const backendPort = await listen(backend, 0);
  const agent = new http.Agent({ keepAlive: true });
  const lock = new ReadWriteLock();
  const shim = new Shim((target, payload, headers) => send(agent, backendPort, target, payload, headers));

  const front = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.split('.')[1] ?? '';
      const exclusive = operation === 'TransactWriteItems';
      lock
        .run(exclusive, async () =>
          Shim.handles(operation)
            ? shim.handle(operation, target, JSON.parse(body) as Json, req.headers)
            : send(agent, backendPort, target, body, req.headers),
        )
        .then(
          (reply) => reply.write(res),
          (error: unknown) => new Reply(500, { __type: 'InternalServerError', message: String(error) }).write(res),
        );
    });
  });
  const port = await listen(front, 0);
  const clients: DynamoDBClient[] = [];

  return {
    endpoint: `http://127.0.0.1:${port}`,
    client(overrides = {}) {
      const client = new DynamoDBClient({
        region: 'eu-west-1',
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    disconnect: () => close(front),
    reconnect: async () => {
      await listen(front, port);
    },
    async stop() {
      for (const client of clients) client.destroy();
      if (front.listening) await close(front);
      // Let operations already inside dynalite finish: closing its database under them throws
      // an uncaught "Database is closed" from dynalite's own callbacks.
      await lock.run(true, async () => {});
      agent.destroy();
      await close(backend);
    },
  };
}

/** Many shared holders or one exclusive holder, granted in arrival order. */
class ReadWriteLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Array<{ exclusive: boolean; grant: () => void }> = [];

  async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(exclusive);
    try {
      return await fn();
    } finally {
      if (exclusive) this.writer = false;
      else this.readers -= 1;
      this.drain();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ exclusive, grant: resolve });
      this.drain();
    });
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      const free = next.exclusive ? !this.writer && this.readers === 0 : !this.writer;
      if (!free) return;
      this.waiting.shift();
      if (next.exclusive) this.writer = true;
      else this.readers += 1;
      next.grant();
    }
  }
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
