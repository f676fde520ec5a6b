import { randomUUID } from 'node:crypto';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { startFauxqsServer, type Fauxqs } from './fauxqs.js';
import { runCli, startLeadgate, type LeadgateProcess } from './leadgate-process.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

/**
 * The distributed set-up on one machine, as Elastic Beanstalk runs it: DynamoDB (DynamoDB Local,
 * a JVM of our own) and a queue (a redis-server of our own, or fauxqs in this process), shared
 * by separate `leadgate api` and `leadgate worker` processes.
 */
export interface Cluster {
  env: Record<string, string>;
  dynamodb: DynamoDbLocal;
  redis: RedisServer | null;
  fauxqs: Fauxqs | null;
  processes: LeadgateProcess[];
  start(
    command: 'api' | 'worker' | 'serve',
    extraEnv?: Record<string, string>,
    options?: { keepLogs?: boolean },
  ): Promise<LeadgateProcess>;
  /** SIGKILLs every leadgate still running and stops the backends. */
  close(): Promise<void>;
}

export async function startCluster(queue: 'bullmq' | 'sqs', baseEnv: Record<string, string>): Promise<Cluster> {
  // Started in parallel: the JVM's start-up is the slow part.
  const [dynamodb, redis, fauxqs] = await Promise.allSettled([
    startDynamoDbLocal(),
    queue === 'bullmq' ? startRedisServer() : null,
    queue === 'sqs' ? startFauxqsServer() : null,
  ]).then(allOrStopped);
  const stopBackends = async () => {
    await redis?.close();
    await fauxqs?.stop();
    await dynamodb.stop();
  };
  const env: Record<string, string> = {
    ...baseEnv,
    LEADGATE_STORE: 'dynamodb',
    LEADGATE_QUEUE: queue,
    LEADGATE_PRIVACY_KEY: `test-privacy-key-${randomUUID()}`,
    DYNAMODB_TABLE_PREFIX: `lg-${randomUUID().slice(0, 8)}`,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...(fauxqs ? { SQS_QUEUE_URL: fauxqs.createQueue(), AWS_ENDPOINT_URL_SQS: fauxqs.endpoint } : {}),
  };
  const migrated = await runCli(['migrate'], env);
  if (migrated.code !== 0) {
    await stopBackends();
    throw new Error(`leadgate migrate failed: ${migrated.stderr}`);
  }

  const processes: LeadgateProcess[] = [];
  return {
    env,
    dynamodb,
    redis,
    fauxqs,
    processes,
    async start(command, extraEnv = {}, options = {}) {
      const p = await startLeadgate(command, { ...env, ...extraEnv }, options);
      processes.push(p);
      return p;
    },
    async close() {
      for (const p of processes) {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await p.exited;
      }
      await stopBackends();
    },
  };
}

type Backends = [DynamoDbLocal, RedisServer | null, Fauxqs | null];

/** The three backends, or (when one failed to start) the others stopped and its error thrown. */
async function allOrStopped(results: [PromiseSettledResult<DynamoDbLocal>, PromiseSettledResult<RedisServer | null>, PromiseSettledResult<Fauxqs | null>]): Promise<Backends> {
  const [dynamodb, redis, fauxqs] = results;
  if (dynamodb.status === 'fulfilled' && redis.status === 'fulfilled' && fauxqs.status === 'fulfilled') {
    return [dynamodb.value, redis.value, fauxqs.value];
  }
  if (redis.status === 'fulfilled') await redis.value?.close();
  if (fauxqs.status === 'fulfilled') await fauxqs.value?.stop();
  if (dynamodb.status === 'fulfilled') await dynamodb.value.stop();
  const failed = [dynamodb, redis, fauxqs].find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
  throw failed.reason;
}

/** A CRM that records, per lead id, how many times it accepted it (duplicates are counted, not hidden). */
export function deliveryLedger() {
  const byLead = new Map<string, number>();
  const byWebhookId = new Map<string, number>();
  return {
    byLead,
    record(body: string, webhookId: string | undefined) {
      const id = (JSON.parse(body) as { data: { id: string } }).data.id;
      byLead.set(id, (byLead.get(id) ?? 0) + 1);
      if (webhookId) byWebhookId.set(webhookId, (byWebhookId.get(webhookId) ?? 0) + 1);
    },
    /** Webhook ids received more than once. */
    duplicates(): number {
      return [...byWebhookId.values()].filter((n) => n > 1).length;
    },
    missing(ids: Iterable<string>): string[] {
      return [...ids].filter((id) => !byLead.has(id));
    },
  };
}
