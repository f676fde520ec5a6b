import type { Env } from './config/env.js';
import { loadConfigFile, resolveConfigPath, type ConfigSource } from './config/load-config.js';
import { HttpDestinationClient } from './adapters/http/destination-client.js';
import { OAuth2TokenProvider } from './adapters/http/oauth2-token.js';
import { SqliteJobQueue } from './adapters/sqlite/job-queue.js';
import { openSqliteDatabase } from './adapters/sqlite/database.js';
import { SqliteLeadStore } from './adapters/sqlite/lead-store.js';
import { SqliteHandoff, type HandoffSource } from './adapters/sqlite/handoff.js';
import type { LeadgateConfig } from './domain/config.js';
import { errorSummary } from './observability/error-summary.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import type { JobQueue } from './ports/job-queue.js';
import type { LeadStore } from './ports/lead-store.js';
import { HttpCaptchaVerifier } from './adapters/http/captcha-verifier.js';
import { LimiterBudgets } from './adapters/memory/request-budgets.js';
import { createLeadAcceptor, type AcceptResult, type LeadSubmission } from './ingest/accept-lead.js';
import type { RequestBudgets } from './ports/request-budgets.js';
import { CircuitBreakers, type BreakerState } from './worker/circuit-breakers.js';
import { createDeliveryGate } from './worker/delivery-gate.js';
import { createSweeper } from './worker/sweeper.js';
import { createWorker } from './worker/worker.js';
import { MemoryDestinationLimits } from './adapters/memory/destination-limits.js';
import type { PrivacyHasher } from './domain/fingerprint.js';
import { createErasureRunner, type ErasureRunner } from './privacy/erasure-runner.js';
import { resolvePrivacyKey } from './privacy/key.js';
import type { PrivacyDeps } from './privacy/requests.js';
import { createRetentionPurger } from './privacy/retention-purger.js';
import type { DestinationLimits } from './ports/destination-limits.js';

/** The composition root: config → adapters → typed dependencies. Nothing else picks adapters. */
export interface Container {
  env: Env;
  roles: Roles;
  config: LeadgateConfig;
  configSource: ConfigSource;
  logger: Logger;
  metrics: Metrics;
  store: LeadStore;
  queue: JobQueue;
  /** Request budgets of both listeners: shared through Redis on BullMQ, per process otherwise. */
  budgets: RequestBudgets;
  /** The ingest use case, when the api role runs here. */
  acceptLead: ((submission: LeadSubmission) => Promise<AcceptResult>) | null;
  /** The delivery worker, its sweeper and its CRM protections, when the worker role runs here. */
  worker: WorkerRuntime | null;
  /** What the privacy use cases (src/privacy/requests.ts) need; the admin API and the CLI call them. */
  privacy: PrivacyDeps;
  /** The embedded queue's hand-off (SQLite only), for `leadgate serve` to link to its worker thread. */
  handoff: SqliteHandoff | null;
  /** Closes every adapter; safe to call once everything using them has stopped. */
  close(): Promise<void>;
}

/** What a process runs: `serve` both, `api` and `worker` one each. */
export interface Roles {
  api: boolean;
  worker: boolean;
}

/** Everything a worker process runs, with one start and one stop. */
export interface WorkerRuntime {
  /** This process's circuit breakers, for the admin view. */
  breakers: CircuitBreakers;
  /** Runs privacy erasures (and resumes them after a restart). */
  erasures: ErasureRunner;
  start(): void;
  /** Stops taking deliveries, waits for those in flight, then closes what the worker opened. */
  stop(): Promise<void>;
}

/** Loads the config file named by the environment; throws ConfigError. */
export function loadConfig(env: Env, options: { demo?: boolean } = {}): { config: LeadgateConfig; configSource: ConfigSource } {
  const configSource = resolveConfigPath(env.LEADGATE_CONFIG, options);
  return { config: loadConfigFile(configSource.path), configSource };
}

export interface ContainerOptions {
  demo?: boolean;
  /** Set in `leadgate serve`'s worker thread (src/cli/worker-thread.ts): what links it to the api thread. */
  workerThread?: {
    /** Receives the deliveries the api thread's ingest hands off (SQLite only). */
    handoff?: HandoffSource;
    /** Told each breaker state change, for the api thread's admin views. */
    onBreakerState: (destinationId: string, state: BreakerState) => void;
  };
}

export async function createContainer(env: Env, roles: Roles, options: ContainerOptions = {}): Promise<Container> {
  const { config, configSource } = loadConfig(env, options);
  const logger = createLogger(env.LOG_LEVEL);
  const metrics = createMetrics({ defaultMetrics: !options.workerThread });
  const hasher = resolvePrivacyKey(env);
  const { store, queue, handoff } = await openBackends(env, hasher, logger, options.workerThread?.handoff);
  // The embedded store needs zero set-up: its schema is created on start. Production
  // backends are prepared by `leadgate migrate` (a deploy step), never by an api instance.
  if (env.LEADGATE_STORE === 'sqlite') await store.migrate();
  const worker = roles.worker
    ? await createWorkerRuntime(env, { config, logger, metrics, store, queue }, options.workerThread?.onBreakerState)
    : null;
  const privacy: PrivacyDeps = { config, store, hasher, logger, now: Date.now };
  // serve's worker thread has no listener to spend budgets on: no Redis connection for them there.
  const budgets = options.workerThread ? new LimiterBudgets() : await createRequestBudgets(env);
  const captcha = roles.api ? new HttpCaptchaVerifier() : null;
  const acceptLead = captcha ? createLeadAcceptor({ config, store, queue, metrics, captcha, hasher, now: Date.now }) : null;
  return {
    env,
    roles,
    config,
    configSource,
    logger,
    metrics,
    store,
    queue,
    budgets,
    acceptLead,
    worker,
    privacy,
    handoff,
    async close() {
      await captcha?.close();
      await budgets.close();
      await queue.close();
      await store.close();
    },
  };
}

/**
 * Store and queue chosen by LEADGATE_STORE / LEADGATE_QUEUE: the one place adapters are picked.
 * Production adapters are imported only when chosen: the AWS SDK and BullMQ would otherwise add
 * tens of MB to every embedded process.
 */
async function openBackends(
  env: Env,
  hasher: PrivacyHasher,
  logger?: Logger,
  threadHandoff?: HandoffSource,
): Promise<{ store: LeadStore; queue: JobQueue; handoff: SqliteHandoff | null }> {
  // A job whose handler failed (store hiccup) is handed again later; say so, without data.
  const onError = (err: unknown) => logger?.warn({ err: errorSummary(err) }, 'queue error, the job will be retried');

  if (env.LEADGATE_QUEUE === 'sqlite') {
    // env.ts guarantees LEADGATE_STORE=sqlite here: the jobs are the store's deliveries table.
    const db = openSqliteDatabase(env.LEADGATE_DATA_DIR);
    // issue 13: new deliveries go from the ingest straight to this process's worker, when it runs
    // one: on this thread, or (serve's worker thread) from the api thread through `threadHandoff`.
    const handoff = threadHandoff ? null : new SqliteHandoff();
    return {
      store: new SqliteLeadStore(db, { hasher, handoff: handoff ?? undefined, attemptWriteDeferMs: 2 }),
      queue: new SqliteJobQueue(db, { onError, leaseMs: env.LEADGATE_JOB_LEASE_MS, handoff: threadHandoff ?? handoff ?? undefined }),
      handoff,
    };
  }
  return { store: await openStore(env, hasher), queue: await openQueue(env, onError), handoff: null };
}

async function openStore(env: Env, hasher: PrivacyHasher): Promise<LeadStore> {
  if (env.LEADGATE_STORE === 'sqlite') return new SqliteLeadStore(openSqliteDatabase(env.LEADGATE_DATA_DIR), { hasher });
  const [{ DynamoDBClient }, { DynamoLeadStore }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('./adapters/dynamodb/lead-store.js'),
  ]);
  return new DynamoLeadStore({
    client: new DynamoDBClient({
      region: env.AWS_REGION,
      endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
      // A connection that hangs must turn into a quick 503, not a request held open.
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
    }),
    tablePrefix: env.DYNAMODB_TABLE_PREFIX,
  });
}

async function openQueue(env: Env, onError: (err: unknown) => void): Promise<JobQueue> {
  if (env.LEADGATE_QUEUE === 'bullmq') {
    const { BullmqJobQueue } = await import('./adapters/bullmq/job-queue.js');
    return new BullmqJobQueue({ redisUrl: env.REDIS_URL!, onError, lockDurationMs: env.LEADGATE_JOB_LEASE_MS });
  }
  const [{ SQSClient }, { SqsJobQueue }] = await Promise.all([
    import('@aws-sdk/client-sqs'),
    import('./adapters/sqs/job-queue.js'),
  ]);
  return new SqsJobQueue({
    client: new SQSClient({
      region: env.AWS_REGION,
      endpoint: env.AWS_ENDPOINT_URL_SQS,
      // Above the 20 s long poll, so only a connection that truly hangs times out.
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 25_000 },
    }),
    queueUrl: env.SQS_QUEUE_URL!,
    visibilityTimeoutSec: Math.ceil(env.LEADGATE_JOB_LEASE_MS / 1000),
    onError,
  });
}

/** True when the queue is not the store itself, so a sweeper must cover the gap between them. */
function needsSweeper(env: Env): boolean {
  return env.LEADGATE_QUEUE !== 'sqlite';
}

function createDestinationClient(): HttpDestinationClient {
  return new HttpDestinationClient();
}

/**
 * max_in_flight and rate_limit: shared through Redis by every worker when the queue is BullMQ
 * (REDIS_URL), per process otherwise (the embedded queue has one worker process; on SQS each
 * process keeps its own share). Its own Redis connection: commands wait briefly for a
 * reconnection (offline queue) but time out after 2 s, so an outage rejects the job (retried).
 */
async function createDestinationLimits(env: Env): Promise<{ limits: DestinationLimits; close(): Promise<void> }> {
  if (env.LEADGATE_QUEUE !== 'bullmq') return { limits: new MemoryDestinationLimits(), close: async () => {} };
  const [{ Redis }, { closeConnection, reconnectBackoff }, { RedisDestinationLimits }] = await Promise.all([
    import('ioredis'),
    import('./adapters/bullmq/redis-connection.js'),
    import('./adapters/bullmq/destination-limits.js'),
  ]);
  const client = new Redis(env.REDIS_URL!, {
    connectionName: 'leadgate:limits',
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: reconnectBackoff(2_000),
  });
  client.on('error', () => {}); // a down Redis shows in the queue's errors and in readiness already
  return { limits: new RedisDestinationLimits({ client }), close: () => closeConnection(client, 2_000) };
}

/**
 * Budgets of the public edge and of admin sign-ins: shared by every instance through Redis
 * when the queue is BullMQ (REDIS_URL), per process otherwise (documented in docs/configuration.md).
 */
async function createRequestBudgets(env: Env): Promise<RequestBudgets> {
  if (env.LEADGATE_QUEUE !== 'bullmq') return new LimiterBudgets();
  const [{ Redis }, { closeConnection, reconnectBackoff }, { createRedisBudgets }] = await Promise.all([
    import('ioredis'),
    import('./adapters/bullmq/redis-connection.js'),
    import('./adapters/bullmq/request-budgets.js'),
  ]);
  // No offline queue: while Redis is away each call fails at once and the in-memory insurance
  // limiter answers instead of requests waiting on a reconnection.
  const client = new Redis(env.REDIS_URL!, {
    connectionName: 'leadgate:budgets',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: reconnectBackoff(2_000),
  });
  client.on('error', () => {}); // a down Redis shows in the queue's errors and in readiness already
  return createRedisBudgets(client, () => closeConnection(client, 2_000));
}

/** OAuth2 access tokens for destinations with `auth: {type: oauth2}`, cached per destination. */
function createTokenProvider(): OAuth2TokenProvider {
  return new OAuth2TokenProvider();
}

async function createWorkerRuntime(
  env: Env,
  deps: Pick<Container, 'config' | 'logger' | 'metrics' | 'store' | 'queue'>,
  onBreakerState?: (destinationId: string, state: BreakerState) => void,
): Promise<WorkerRuntime> {
  const { config, logger, metrics, store, queue } = deps;
  const client = createDestinationClient();
  const tokens = createTokenProvider();
  // Protecting CRMs: breakers live in this process; limits in Redis (bullmq) or here; pause in the store.
  const breakers = new CircuitBreakers({ metrics, logger, onChange: onBreakerState });
  const limits = await createDestinationLimits(env);
  const gate = createDeliveryGate({ store, breakers, limits: limits.limits, metrics });
  const worker = createWorker({ config, store, queue, client, tokens, gate, metrics, logger, concurrency: env.LEADGATE_WORKER_CONCURRENCY });
  // One sweeper per worker process, safe on many: it only re-announces overdue deliveries.
  const sweeper = needsSweeper(env)
    ? createSweeper({ store, queue, logger, intervalMs: env.LEADGATE_SWEEP_INTERVAL_MS, graceMs: env.LEADGATE_SWEEP_GRACE_MS })
    : null;
  // Privacy: erasures run (and resume after a restart) in the workers; so does the SQLite
  // retention purge (DynamoDB expires the same records with its TTL).
  const erasures = createErasureRunner({ store, queue, logger, now: Date.now, batchSize: env.LEADGATE_ERASURE_BATCH_SIZE });
  const purger = createRetentionPurger({ config, store, metrics, logger, now: Date.now });

  return {
    breakers,
    erasures,
    start() {
      worker.start();
      sweeper?.start();
      erasures.start();
      purger.start();
    },
    async stop() {
      await erasures.stop();
      await purger.stop();
      await sweeper?.stop();
      await worker.stop();
      await limits.close();
      await client.close();
      await tokens.close();
    },
  };
}

/** Opens the store and queue for an operator command (lead show, replay, migrate, …) and closes them after. */
export async function withBackends<T>(env: Env, fn: (store: LeadStore, queue: JobQueue, hasher: PrivacyHasher) => Promise<T>): Promise<T> {
  const hasher = resolvePrivacyKey(env);
  const { store, queue } = await openBackends(env, hasher);
  try {
    if (env.LEADGATE_STORE === 'sqlite') await store.migrate();
    return await fn(store, queue, hasher);
  } finally {
    await queue.close();
    await store.close();
  }
}
