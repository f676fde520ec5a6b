import { ConfigError } from './config/config-error.js';
import type { Env } from './config/env.js';
import { loadConfigFile, resolveConfigPath, type ConfigSource } from './config/load-config.js';
import { HttpDestinationClient } from './adapters/destinations/http-client.js';
import { SqliteJobQueue } from './adapters/queue/job-queue.sqlite.js';
import { openSqliteDatabase } from './adapters/sqlite/database.js';
import { SqliteLeadStore } from './adapters/store/lead-store.sqlite.js';
import type { LeadgateConfig } from './domain/config.js';
import { errorSummary } from './observability/error-summary.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import type { JobQueue } from './ports/job-queue.js';
import type { LeadStore } from './ports/lead-store.js';

/** The composition root: config → adapters → typed dependencies. Nothing else picks adapters. */
export interface Container {
  env: Env;
  config: LeadgateConfig;
  configSource: ConfigSource;
  logger: Logger;
  metrics: Metrics;
  store: LeadStore;
  queue: JobQueue;
  /** Closes every adapter; safe to call once everything using them has stopped. */
  close(): Promise<void>;
}

/** Loads the config file named by the environment; throws ConfigError. */
export function loadConfig(env: Env): { config: LeadgateConfig; configSource: ConfigSource } {
  const configSource = resolveConfigPath(env.LEADGATE_CONFIG);
  return { config: loadConfigFile(configSource.path), configSource };
}

export async function createContainer(env: Env): Promise<Container> {
  const { config, configSource } = loadConfig(env);
  const logger = createLogger(env.LOG_LEVEL);
  const metrics = createMetrics();
  const { store, queue } = openBackends(env, logger);
  // The embedded default needs zero set-up: its schema is created on start. Production
  // backends are prepared by `leadgate migrate` (a deploy step), never by an api instance.
  if (env.LEADGATE_STORE === 'sqlite') await store.migrate();
  return {
    env,
    config,
    configSource,
    logger,
    metrics,
    store,
    queue,
    async close() {
      await queue.close();
      await store.close();
    },
  };
}

/** Store and queue chosen by LEADGATE_STORE / LEADGATE_QUEUE. */
export function openBackends(env: Env, logger?: Logger): { store: LeadStore; queue: JobQueue } {
  if (env.LEADGATE_STORE !== 'sqlite' || env.LEADGATE_QUEUE !== 'sqlite') {
    throw new ConfigError([
      `LEADGATE_STORE=${env.LEADGATE_STORE} / LEADGATE_QUEUE=${env.LEADGATE_QUEUE}: only the embedded sqlite backends exist in this version`,
    ]);
  }
  const db = openSqliteDatabase(env.LEADGATE_DATA_DIR);
  // A job whose handler failed (store hiccup) keeps its lease and is retried once it expires.
  const onError = (err: unknown) => logger?.warn({ err: errorSummary(err) }, 'delivery job failed, will retry');
  return { store: new SqliteLeadStore(db), queue: new SqliteJobQueue(db, { onError }) };
}

export function createDestinationClient(): HttpDestinationClient {
  return new HttpDestinationClient();
}
