import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LeadgateConfig } from '../domain/config.js';
import { errorSummary } from '../observability/error-summary.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { LeadStore } from '../ports/lead-store.js';
import { EMPTY_PURGE, type PurgeCounts, type PurgeKind } from '../ports/privacy-store.js';

export interface RetentionPurgerDeps {
  config: LeadgateConfig;
  store: LeadStore;
  metrics: Metrics;
  logger: Pick<Logger, 'info' | 'warn'>;
  now: () => number;
  /** Leads deleted per transaction. */
  batchSize?: number;
  intervalMs?: number;
}

export interface RetentionPurger {
  start(): void;
  /** One pass over every brand; resolves with what it deleted, or null when the store expires records itself. */
  purge(): Promise<PurgeCounts | null>;
  stop(): Promise<void>;
}

/**
 * Deletes, brand by brand, the leads received longer ago than the brand's `retention` and
 * everything attached to them (dead deliveries included), in short transactions with a turn of
 * the event loop between them, so ingest never waits long on the write lock. DynamoDB expires
 * the same records with its TTL: there the store answers null and the purger stops.
 */
export function createRetentionPurger(deps: RetentionPurgerDeps): RetentionPurger {
  const { config, store, metrics, logger, now } = deps;
  const batchSize = deps.batchSize ?? 500;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<PurgeCounts | null> | null = null;
  let stopped = false;

  async function purgeOnce(): Promise<PurgeCounts | null> {
    const total: PurgeCounts = { ...EMPTY_PURGE };
    for (const brand of config.brands) {
      const cutoff = now() - brand.retentionMs;
      for (;;) {
        if (stopped) return total;
        const counts = await store.purgeExpired(brand.id, cutoff, batchSize);
        if (counts === null) return null;
        for (const kind of Object.keys(counts) as PurgeKind[]) {
          total[kind] += counts[kind];
          if (counts[kind] > 0) metrics.recordsPurged.inc({ kind }, counts[kind]);
        }
        if (counts.leads < batchSize) break;
        await nextTurn();
      }
    }
    if (total.leads > 0) logger.info({ ...total }, 'retention purge deleted expired records');
    return total;
  }

  const purge = (): Promise<PurgeCounts | null> => {
    running ??= purgeOnce().finally(() => (running = null));
    return running;
  };

  return {
    start() {
      if (timer) return;
      stopped = false;
      const tick = () => {
        purge().then(
          (result) => {
            if (result === null && timer) {
              clearInterval(timer); // the store's TTL does it
              timer = null;
            }
          },
          (err: unknown) => logger.warn({ err: errorSummary(err) }, 'retention purge failed, will try again'),
        );
      };
      timer = setInterval(tick, deps.intervalMs ?? 15 * 60_000);
      timer.unref();
      tick();
    },
    purge,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
