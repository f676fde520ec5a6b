import { randomUUID } from 'node:crypto';
import { startDynalite, type Dynalite } from './dynalite.js';
import { startFauxqsServer, type Fauxqs } from './fauxqs.js';
import { runCli, startLeadgate, type LeadgateProcess } from './leadgate-process.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

/**
 * The distributed set-up on one machine, as Elastic Beanstalk runs it: DynamoDB (dynalite, in
 * this process) and a queue (a redis-server of our own, or fauxqs in this process), shared by
 * separate `leadgate api` and `leadgate worker` processes.
 */
export interface Cluster {
  env: Record<string, string>;
  dynalite: Dynalite;
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
  const dynalite = await startDynalite();
  const redis = queue === 'bullmq' ? await startRedisServer() : null;
  const fauxqs = queue === 'sqs' ? await startFauxqsServer() : null;
  const env: Record<string, string> = {
    ...baseEnv,
    LEADGATE_STORE: 'dynamodb',
    LEADGATE_QUEUE: queue,
    LEADGATE_PRIVACY_KEY: `test-privacy-key-${randomUUID()}`,
    DYNAMODB_TABLE_PREFIX: `lg-${randomUUID().slice(0, 8)}`,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...(fauxqs ? { SQS_QUEUE_URL: fauxqs.createQueue(), AWS_ENDPOINT_URL_SQS: fauxqs.endpoint } : {}),
  };
  const migrated = await runCli(['migrate'], env);
  if (migrated.code !== 0) throw new Error(`leadgate migrate failed: ${migrated.stderr}`);

  const processes: LeadgateProcess[] = [];
  return {
    env,
    dynalite,
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
      await redis?.close();
      await fauxqs?.stop();
      await dynalite.stop();
    },
  };
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
