import { z } from 'zod';
import { ConfigError, formatPath } from './config-error.js';

/**
 * Deployment settings. This module is the only reader of process.env (besides `${VAR}`
 * substitution in the config file). Every variable is described once, here; `.env.example`
 * is checked against this schema by test/unit/env.test.ts.
 */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z.string().optional();

const PROXY_ENTRY = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
/** Fastify's trustProxy: a hop count, or the addresses (CIDRs) of the proxies to believe. */
const trustProxy = z.string().transform((value, ctx): number | string[] => {
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => PROXY_ENTRY.test(entry))) return entries;
  ctx.addIssue({ code: 'custom', message: 'must be a hop count (e.g. 1) or a comma-separated list of IPs/CIDRs' });
  return z.NEVER;
});

export const envSchema = z.object({
  PORT: int(0, 65535).default(3000).describe('port of the public listener: ingest, embed script, health'),
  HOST: z.string().min(1).default('0.0.0.0').describe('address of the public listener'),
  LEADGATE_OPS_PORT: int(0, 65535)
    .optional()
    .describe('port of the ops listener of every process (metrics, health, admin API, console, OpenAPI docs); default 9464; 0 = off'),
  LEADGATE_OPS_HOST: z.string().min(1).default('127.0.0.1').describe('address of the ops listener; keep it off the load balancer'),
  LEADGATE_TRUST_PROXY: trustProxy
    .optional()
    .describe('load balancers in front: a hop count (1 behind one ALB) or a comma-separated list of proxy IPs/CIDRs; the client IP then comes from X-Forwarded-For'),
  LEADGATE_OPS_TRUST_PROXY: trustProxy
    .optional()
    .describe('a TLS proxy in front of the ops listener (hop count or IPs/CIDRs): its X-Forwarded-Proto marks the console cookie Secure and X-Forwarded-For names the client'),
  LEADGATE_UNKNOWN_KEY_PER_MINUTE: int(1, 1_000_000)
    .default(10)
    .describe('per client IP: requests per minute with a missing or unknown key before 429 (slows key guessing)'),
  LEADGATE_PRIVACY_KEY: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)')
    .optional()
    .describe('secret of the keyed hashes (HMAC-SHA256) that find a person\'s leads by email or phone and detect duplicates; required with LEADGATE_STORE=dynamodb; on sqlite, generated once into <data dir>/privacy.key (0600) when unset. Back it up: without it a person\'s leads cannot be found'),
  LEADGATE_ERASURE_BATCH_SIZE: int(1, 10_000)
    .default(100)
    .describe('leads erased per store transaction by a privacy erasure (smaller: shorter write locks; larger: faster erasures)'),
  LEADGATE_CONFIG: optionalString.describe('config file; default ./leadgate.yaml; without either, only `serve --demo` starts (on the bundled example)'),
  LEADGATE_DATA_DIR: z.string().min(1).default('./data').describe('where the embedded store keeps its files'),
  LEADGATE_ADMIN_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)')
    .optional()
    .describe('bearer token of the admin API and the console, at least 32 characters; unset = both off'),
  LEADGATE_STORE: z.enum(['sqlite', 'dynamodb']).default('sqlite').describe('store backend'),
  LEADGATE_QUEUE: z.enum(['sqlite', 'bullmq', 'sqs']).default('sqlite').describe('queue backend'),
  LEADGATE_WORKER_CONCURRENCY: int(1, 1024)
    .default(128)
    .describe('deliveries in flight per worker process (CRMs are protected per destination by max_in_flight)'),
  LEADGATE_JOB_LEASE_MS: int(1000, 3_600_000)
    .default(30_000)
    .describe("how long a delivery being worked on stays claimed without renewal: a killed worker's deliveries come back after it (SQLite lease, BullMQ lock, SQS visibility timeout)"),
  LEADGATE_SWEEP_INTERVAL_MS: int(100, 3_600_000).default(30_000).describe('how often each worker looks for pending deliveries the queue lost (bullmq, sqs)'),
  LEADGATE_SWEEP_GRACE_MS: int(0, 86_400_000).default(120_000).describe('how overdue a pending delivery must be before the sweeper announces it again'),
  REDIS_URL: optionalString.describe('Redis URL, for LEADGATE_QUEUE=bullmq'),
  SQS_QUEUE_URL: optionalString.describe('queue URL, for LEADGATE_QUEUE=sqs'),
  DYNAMODB_TABLE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/).default('leadgate').describe('table name prefix, for LEADGATE_STORE=dynamodb'),
  AWS_REGION: optionalString.describe('AWS SDK region'),
  AWS_ENDPOINT_URL_SQS: optionalString.describe('SQS endpoint override (emulators in tests)'),
  AWS_ENDPOINT_URL_DYNAMODB: optionalString.describe('DynamoDB endpoint override (emulators in tests)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino level'),
  LEADGATE_WORKER_METRICS_PORT: int(0, 65535)
    .optional()
    .describe('ops listener port of a worker-only process (`leadgate worker`), before LEADGATE_OPS_PORT; other processes read it only when LEADGATE_OPS_PORT is unset'),
  LEADGATE_MAX_EVENT_LOOP_DELAY_MS: int(0, 600_000)
    .optional()
    .describe('overload: mean event-loop delay above which requests get 503 + Retry-After (default 1000; 0 = off)'),
  LEADGATE_MAX_HEAP_USED_BYTES: int(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe("overload: V8 heap in use above which requests get 503 (default 90 % of V8's heap limit; 0 = off)"),
  LEADGATE_MAX_RSS_BYTES: int(0, Number.MAX_SAFE_INTEGER).optional().describe('overload: resident memory above which requests get 503 (default off)'),
  LEADGATE_READY_CHECK_TIMEOUT_MS: int(1, 60_000)
    .default(1_000)
    .describe("how long /health/ready waits for each backend's answer before reporting it `timeout`"),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(30_000).describe('longest graceful drain on SIGTERM'),
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 600_000)
    .default(0)
    .describe('on SIGTERM, how long readiness answers 503 while requests are still served, before the listener closes: set it above the load balancer health check interval × threshold when the load balancer does not deregister the instance itself'),
});

export type Env = z.infer<typeof envSchema>;

export const DEFAULT_OPS_PORT = 9464;

/**
 * Where the ops listener binds, or null when it is off (port 0). A worker-only process takes
 * LEADGATE_WORKER_METRICS_PORT first (its meaning before the ops listener existed), so an api
 * and a worker on one host (Elastic Beanstalk's Procfile) can share one environment.
 */
export function opsListener(env: Env, options: { workerOnly?: boolean } = {}): { port: number; host: string } | null {
  const port = options.workerOnly
    ? (env.LEADGATE_WORKER_METRICS_PORT ?? env.LEADGATE_OPS_PORT ?? DEFAULT_OPS_PORT)
    : (env.LEADGATE_OPS_PORT ?? env.LEADGATE_WORKER_METRICS_PORT ?? DEFAULT_OPS_PORT);
  return port === 0 ? null : { port, host: env.LEADGATE_OPS_HOST };
}

/**
 * Settings that only make sense together. Checked on the raw values so that these problems
 * are reported in the same run as the per-variable ones.
 */
function combinationProblems(source: NodeJS.ProcessEnv): string[] {
  const queue = source.LEADGATE_QUEUE || 'sqlite';
  const store = source.LEADGATE_STORE || 'sqlite';
  const problems: string[] = [];
  if (queue === 'bullmq' && !source.REDIS_URL) problems.push('REDIS_URL: is required when LEADGATE_QUEUE=bullmq');
  if (queue === 'sqs' && !source.SQS_QUEUE_URL) problems.push('SQS_QUEUE_URL: is required when LEADGATE_QUEUE=sqs');
  if (store === 'dynamodb' && !source.LEADGATE_PRIVACY_KEY) {
    problems.push('LEADGATE_PRIVACY_KEY: is required when LEADGATE_STORE=dynamodb (the instances must share the key of the keyed hashes)');
  }
  if (queue === 'sqlite' && store !== 'sqlite') {
    problems.push('LEADGATE_QUEUE: sqlite works only with LEADGATE_STORE=sqlite (the jobs live in the same database)');
  }
  return problems;
}

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadEnv(raw: NodeJS.ProcessEnv = process.env): Env {
  // An empty variable (`PORT=`) means unset, as in most deploy tools, not "0" or "".
  const source = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== ''));
  const result = envSchema.safeParse(source);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  problems.push(...combinationProblems(source));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}
