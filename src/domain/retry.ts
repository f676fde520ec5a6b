import type { RetryPolicy } from './config.js';

/** The contract's default schedule: 8 attempts over about 28 hours. */
export const DEFAULT_RETRY_DELAYS: readonly string[] = ['5s', '5m', '30m', '2h', '5h', '10h', '10h'];

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h)$/;

/**
 * `"250ms" | "5s" | "5m" | "2h"` → milliseconds. Whole numbers only, and the unit is
 * mandatory: a bare `5` is ambiguous in a config file, so it is an error rather than a guess.
 */
export function parseDuration(value: string): number {
  const match = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  if (!match) {
    throw new Error(
      `invalid duration ${JSON.stringify(value)}: expected a whole number with a unit ms, s, m or h (e.g. "5s")`,
    );
  }
  const amount = Number(match[1]);
  const ms = amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms)) throw new Error(`invalid duration ${JSON.stringify(value)}: too large`);
  return ms;
}

/** Jitter spreads retries of many deliveries that failed together (a CRM outage) over ±20 %. */
const JITTER_LOW = 0.8;
const JITTER_SPAN = 0.4;
/** Above a Retry-After we only ever add up to 20 %, so we never come back before the destination asked. */
const RETRY_AFTER_SPAN = 0.2;

/**
 * How long to wait before the next attempt, or null when the schedule is exhausted.
 *
 * - `cycleAttempts`: attempts made so far in this cycle, the one that just failed included (≥ 1).
 *   Attempt n+1 waits `delaysMs[n-1]`; there are `1 + delaysMs.length` attempts in all.
 * - Without Retry-After: the scheduled delay × a factor in [0.8, 1.2).
 * - With Retry-After: `min(retryAfter, scheduled)` × a factor in [1, 1.2). Honoured up to the
 *   next delay's size (a CRM cannot push a lead out by days), never retried earlier than it
 *   asked, and still jittered upwards so a fleet told "retry in 30 s" does not return at once.
 *   Both branches therefore stay below scheduled × 1.2. Whole ms (floored): stores keep integers.
 */
export function nextDelayMs(
  policy: RetryPolicy,
  cycleAttempts: number,
  retryAfterMs: number | null,
  random: () => number,
): number | null {
  if (!Number.isInteger(cycleAttempts) || cycleAttempts < 1) {
    throw new Error(`cycleAttempts must be an integer ≥ 1, got ${cycleAttempts}`);
  }
  const scheduled = policy.delaysMs[cycleAttempts - 1];
  if (scheduled === undefined) return null;
  const r = clampUnit(random());
  if (retryAfterMs !== null && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.floor(Math.min(retryAfterMs, scheduled) * (1 + RETRY_AFTER_SPAN * r));
  }
  return Math.floor(scheduled * (JITTER_LOW + JITTER_SPAN * r));
}

/** A misbehaving random source must not produce negative or huge delays. */
function clampUnit(r: number): number {
  if (!Number.isFinite(r) || r < 0) return 0;
  return Math.min(r, 0.999_999);
}
