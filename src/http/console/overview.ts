import type { LeadgateConfig } from '../../domain/config.js';
import type { Metrics } from '../../observability/metrics.js';
import type { LeadStore } from '../../ports/lead-store.js';
import type { BreakerStateName } from '../routes/destinations.js';

/**
 * The overview's figures. Everything cluster-wide comes from the store (the console may run in
 * an api process with no worker, beside other instances): pending, dead, oldest pending, paused,
 * attempts of the last 15 minutes, leads of the last hour. Two figures only this process knows
 * are labelled as such: its worker's circuit breakers ("unknown" without a worker here) and the
 * submissions its public listener rejected (rejections are never stored).
 */

export const RATE_WINDOW_MS = 15 * 60_000;
export const LEADS_WINDOW_MS = 60 * 60_000;

export interface DestinationOverview {
  id: string;
  pending: number;
  dead: number;
  oldestPendingAgeSec: number | null;
  attempts: number;
  /** Attempts per minute over the rate window. */
  perMinute: number;
  /** Share of those attempts that failed (retry or dead), null without attempts. */
  errorShare: number | null;
  breaker: BreakerStateName | 'unknown';
  paused: boolean;
}

export interface BrandOverview {
  id: string;
  /** Leads kept and routed (or unrouted) in the last hour, from the store. */
  accepted: number;
  spam: number;
  /** Submissions this process's public listener rejected since `rejectedSince`. */
  rejected: number;
}

export interface Overview {
  at: number;
  destinations: DestinationOverview[];
  brands: BrandOverview[];
  /** When the rejected counts start: an hour ago, or this process's start if later. */
  rejectedSince: number;
}

export interface OverviewDeps {
  config: LeadgateConfig;
  store: LeadStore;
  metrics: Metrics;
  breakerState?: (destinationId: string) => BreakerStateName;
}

/** Rejections per brand from this process's counter, as a sample at a time. */
interface Sample {
  at: number;
  totals: Map<string, number>;
}

const SAMPLE_EVERY_MS = 60_000;

export function createOverviewReader(deps: OverviewDeps, startedAt: number): (now: number) => Promise<Overview> {
  // The counter was 0 when this process started; later samples let "the last hour" be a difference.
  const samples: Sample[] = [{ at: startedAt, totals: new Map() }];

  async function rejectedTotals(): Promise<Map<string, number>> {
    const totals = new Map<string, number>();
    for (const value of (await deps.metrics.leadsRejected.get()).values) {
      const brand = String(value.labels.brand ?? 'unknown');
      totals.set(brand, (totals.get(brand) ?? 0) + value.value);
    }
    return totals;
  }

  function baseline(now: number): Sample {
    const hourAgo = now - LEADS_WINDOW_MS;
    // The newest sample at least an hour old; else the oldest one kept.
    let chosen = samples[0]!;
    for (const sample of samples) if (sample.at <= hourAgo) chosen = sample;
    // Older samples than the baseline are of no further use.
    samples.splice(0, samples.indexOf(chosen));
    return chosen;
  }

  return async (now) => {
    const { config, store } = deps;
    const [stats, counts, states, leadCounts, totals] = await Promise.all([
      store.stats(),
      store.attemptCounts(now - RATE_WINDOW_MS),
      store.destinationStates(),
      Promise.all(config.brands.map((b) => store.countLeads(b.id, now - LEADS_WINDOW_MS))),
      rejectedTotals(),
    ]);
    const base = baseline(now);
    if (now - samples[samples.length - 1]!.at >= SAMPLE_EVERY_MS) samples.push({ at: now, totals });

    const statsBy = new Map(stats.map((s) => [s.destination, s]));
    const countsBy = new Map(counts.map((c) => [c.destination, c]));
    const pausedBy = new Map(states.map((s) => [s.destination, s.paused]));
    return {
      at: now,
      rejectedSince: base.at,
      destinations: config.destinations.map((d) => {
        const s = statsBy.get(d.id);
        const c = countsBy.get(d.id);
        const attempts = c ? c.delivered + c.retry + c.dead : 0;
        return {
          id: d.id,
          pending: s?.pending ?? 0,
          dead: s?.dead ?? 0,
          oldestPendingAgeSec:
            s?.oldestPendingCreatedAt === null || s?.oldestPendingCreatedAt === undefined
              ? null
              : Math.max(0, (now - s.oldestPendingCreatedAt) / 1000),
          attempts,
          perMinute: attempts / (RATE_WINDOW_MS / 60_000),
          errorShare: attempts === 0 || !c ? null : (c.retry + c.dead) / attempts,
          breaker: deps.breakerState?.(d.id) ?? 'unknown',
          paused: pausedBy.get(d.id) ?? false,
        };
      }),
      brands: config.brands.map((b, i) => {
        const lc = leadCounts[i] ?? {};
        return {
          id: b.id,
          accepted: (lc.routed ?? 0) + (lc.unrouted ?? 0),
          spam: lc.spam ?? 0,
          rejected: Math.max(0, (totals.get(b.id) ?? 0) - (base.totals.get(b.id) ?? 0)),
        };
      }),
    };
  };
}
