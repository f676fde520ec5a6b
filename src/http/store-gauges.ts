import type { Logger } from 'pino';
import type { LeadgateConfig } from '../domain/config.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import { errorSummary } from '../observability/error-summary.js';

/** Scrapes come from every Prometheus replica and dashboard; the store answers once a second. */
const MIN_INTERVAL_MS = 1000;

/**
 * Refreshes the gauges that describe the whole cluster (pending, dead, oldest pending age
 * from `store.stats()`, queue depth from the queue). Concurrent scrapes share one query; a failing store leaves the last
 * figures in place (a scrape must not fail because the store is slow).
 */
export function createStoreGaugeRefresher(deps: {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  /** `sqlite`, `bullmq` or `sqs`: the label of the queue-depth gauge. */
  queueBackend: string;
  metrics: Metrics;
  now: () => number;
  logger: Logger;
}): () => Promise<void> {
  const { config, store, queue, metrics, now, logger } = deps;
  let lastRefresh = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | null = null;

  const refresh = async (): Promise<void> => {
    const [stats, depth] = await Promise.all([store.stats(), queue.depth()]);
    metrics.queueDepth.reset();
    metrics.queueDepth.set({ backend: deps.queueBackend }, depth);
    const at = now();
    // Configured destinations with nothing pending still show 0, so alerts see a series.
    const rows = new Map(config.destinations.map((d) => [d.id, { pending: 0, dead: 0, age: 0 }]));
    for (const s of stats) {
      const age = s.oldestPendingCreatedAt === null ? 0 : Math.max(0, (at - s.oldestPendingCreatedAt) / 1000);
      rows.set(s.destination, { pending: s.pending, dead: s.dead, age });
    }
    metrics.deliveriesPending.reset();
    metrics.deliveriesDead.reset();
    metrics.oldestPendingAge.reset();
    for (const [destination, row] of rows) {
      metrics.deliveriesPending.set({ destination }, row.pending);
      metrics.deliveriesDead.set({ destination }, row.dead);
      metrics.oldestPendingAge.set({ destination }, row.age);
    }
  };

  return async () => {
    if (running !== null) return running;
    if (now() - lastRefresh < MIN_INTERVAL_MS) return;
    lastRefresh = now();
    running = refresh()
      .catch((err: unknown) => logger.warn({ err: errorSummary(err) }, 'store or queue figures unavailable'))
      .finally(() => {
        running = null;
      });
    return running;
  };
}
