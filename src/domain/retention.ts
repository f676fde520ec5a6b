import { parseDuration } from './retry.js';

/**
 * How long a brand's leads are kept. CNIL: personal data of a prospect who never answered may
 * be kept 3 years from the last contact, hence the default.
 */
export const DAY_MS = 86_400_000;
/** A year is 365 days: a leap year makes the purge come one day early, never late. */
export const YEAR_MS = 365 * DAY_MS;
export const DEFAULT_RETENTION = '3y';
export const MIN_RETENTION_MS = DAY_MS;

const LONG_UNITS = { d: DAY_MS, y: YEAR_MS } as const;
const LONG = /^(\d+)(d|y)$/;

/**
 * `"90d"`, `"3y"`, or any duration `parseDuration` reads (`"36h"`) → milliseconds; at least one
 * day, so a typo such as `3m` (three minutes) cannot wipe a brand's leads.
 */
export function parseRetention(value: string): number {
  const match = LONG.exec(typeof value === 'string' ? value.trim() : '');
  let ms: number;
  if (match) {
    ms = Number(match[1]) * LONG_UNITS[match[2] as keyof typeof LONG_UNITS];
    if (!Number.isSafeInteger(ms)) throw new Error(`invalid retention ${JSON.stringify(value)}: too large`);
  } else {
    try {
      ms = parseDuration(value);
    } catch {
      throw new Error(`invalid retention ${JSON.stringify(value)}: expected a whole number with a unit d or y (e.g. "90d", "3y")`);
    }
  }
  if (ms < MIN_RETENTION_MS) throw new Error(`invalid retention ${JSON.stringify(value)}: at least 1d`);
  return ms;
}
