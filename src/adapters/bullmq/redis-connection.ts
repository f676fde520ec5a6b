import { ConnectionClosedError } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The ioredis connections of the BullMQ adapter, following BullMQ's "going to production" guide:
 * producer and worker want opposite behaviour while Redis is away, so they never share a client.
 */

/** Reconnect for ever (Redis restarts must heal by themselves), backing off to at most `maxMs`, with jitter so many instances do not reconnect in lockstep. */
export function reconnectBackoff(maxMs: number): (times: number) => number {
  return (times) => {
    const exponential = Math.min(maxMs, 50 * 2 ** Math.min(times, 16));
    return Math.round(exponential * (0.8 + Math.random() * 0.2));
  };
}

export interface ConnectionSettings {
  url: string;
  /** Longest pause between two reconnection attempts. */
  reconnectMaxMs: number;
  /** Producer only: a command without a reply by then fails (a hung Redis must not hang the api). */
  commandTimeoutMs: number;
  name: string;
}

/**
 * Producer (enqueue, ping): fails fast. No offline queue, so a command while disconnected rejects
 * at once and the api answers 503 instead of holding the request; few retries for a command
 * caught by a dropped connection; a command timeout for a Redis that accepts but never answers.
 */
export function producerConnection(settings: ConnectionSettings): Redis {
  return connect(settings.url, {
    connectionName: `${settings.name}:producer`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.commandTimeoutMs,
    retryStrategy: reconnectBackoff(settings.reconnectMaxMs),
  });
}

/**
 * Worker: waits. `maxRetriesPerRequest: null` (BullMQ requires it for workers) keeps its commands
 * pending across a Redis restart instead of failing them; BullMQ duplicates this client for its
 * blocking connection, which inherits the same settings. No command timeout: BZPOPMIN blocks.
 */
export function workerConnection(settings: ConnectionSettings): WorkerRedis {
  return quiet(
    new WorkerRedis(settings.url, {
      connectionName: `${settings.name}:worker`,
      maxRetriesPerRequest: null,
      retryStrategy: reconnectBackoff(settings.reconnectMaxMs),
    }),
  );
}

/**
 * The worker's client, remembering the copies BullMQ makes of it (its blocking connection) so
 * that dropWorkerConnections can end those too: BullMQ only closes them through its graceful
 * path, which waits for a Redis that may not come back.
 */
export class WorkerRedis extends Redis {
  private copies: Redis[] = [];

  override duplicate(override?: Partial<RedisOptions>): Redis {
    const copy = quiet(super.duplicate(override));
    this.copies = [...this.copies.filter((c) => c.status !== 'end'), copy];
    return copy;
  }

  /** Drops this client and every copy; see dropConnection. */
  dropAll(): void {
    for (const client of [this, ...this.copies]) dropConnection(client);
    this.copies = [];
  }
}

function connect(url: string, options: RedisOptions): Redis {
  return quiet(new Redis(url, options));
}

/**
 * Connection errors reach onError through the BullMQ Queue/Worker 'error' events that wrap
 * these clients; without a listener here ioredis would also print each one to the console.
 */
function quiet<T extends Redis>(client: T): T {
  client.on('error', () => {});
  return client;
}

/**
 * Drops a client at once and fails its pending commands, so whatever awaits them (BullMQ's
 * worker loop) moves on. ioredis quirk: disconnect() on a client waiting between reconnection
 * attempts only cancels the next attempt; its queued commands would then wait for ever, so they
 * are failed here the way a closed connection fails them (BullMQ treats that as "closed").
 */
export function dropConnection(client: Redis): void {
  client.disconnect();
  if (client.status === 'reconnecting') {
    const internals = client as unknown as { flushQueue?: (error: Error) => void };
    internals.flushQueue?.(new ConnectionClosedError());
  }
}

/** Closes a client without waiting on a Redis that is not there: QUIT when connected, else drop it. */
export async function closeConnection(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    dropConnection(client);
    return;
  }
  try {
    await withTimeout(client.quit(), timeoutMs, 'QUIT');
  } catch {
    // QUIT failed or hung: the socket goes anyway.
  } finally {
    dropConnection(client);
  }
}

export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** Rejects with QueueUnavailableError after `ms`; the timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`redis: ${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
