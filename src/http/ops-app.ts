import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LeadgateConfig } from '../domain/config.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import { registerHealthRoutes } from './routes/health.js';
import { createStoreGaugeRefresher } from './store-gauges.js';

/**
 * The listener of a process without the api (`leadgate worker`): /health/live, /health/ready
 * and /metrics only, so a worker's delivery metrics can be scraped. Never listens itself.
 */
export async function buildOpsApp(deps: {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  queueBackend: string;
  metrics: Metrics;
  logger: Logger;
  isDraining: () => boolean;
  readyCheckTimeoutMs?: number;
}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerHealthRoutes(app, {
    store: deps.store,
    queue: deps.queue,
    metrics: deps.metrics,
    isDraining: deps.isDraining,
    readyCheckTimeoutMs: deps.readyCheckTimeoutMs,
    refreshStoreGauges: createStoreGaugeRefresher({ ...deps, now: Date.now }),
  });
  return app;
}
