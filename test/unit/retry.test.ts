import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../src/domain/config.js';
import { DEFAULT_RETRY_DELAYS, nextDelayMs, parseDuration } from '../../src/domain/retry.js';

const ALMOST_ONE = 0.9999999999;
const policy: RetryPolicy = { delaysMs: DEFAULT_RETRY_DELAYS.map(parseDuration) };

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['0s', 0],
    [' 10h ', 36_000_000],
  ])('%s → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '5', 's', '1.5s', '-5s', '5 s', '5d', '5S', '5sec', 'ms5', '99999999999999999h'])(
    'rejects %j with a message naming the input',
    (input) => {
      expect(() => parseDuration(input)).toThrow(/invalid duration/);
    },
  );

  it('rejects non-strings from untyped callers', () => {
    expect(() => parseDuration(5 as unknown as string)).toThrow(/invalid duration 5/);
  });
});

describe('DEFAULT_RETRY_DELAYS', () => {
  it('is the contract schedule: 8 attempts', () => {
    expect(DEFAULT_RETRY_DELAYS).toEqual(['5s', '5m', '30m', '2h', '5h', '10h', '10h']);
    expect(policy.delaysMs).toHaveLength(7);
  });
});

describe('nextDelayMs', () => {
  it('walks the schedule and is null once every attempt is used', () => {
    const half = () => 0.5; // factor 1.0
    expect(policy.delaysMs.map((_, i) => nextDelayMs(policy, i + 1, null, half))).toEqual(policy.delaysMs);
    expect(nextDelayMs(policy, 8, null, half)).toBeNull();
    expect(nextDelayMs(policy, 20, null, half)).toBeNull();
  });

  it('a policy with no delays makes one attempt only', () => {
    expect(nextDelayMs({ delaysMs: [] }, 1, null, Math.random)).toBeNull();
  });

  it('rejects a cycle count below one', () => {
    expect(() => nextDelayMs(policy, 0, null, Math.random)).toThrow(/cycleAttempts/);
  });

  it('jitters within [0.8, 1.2) of the scheduled delay at the extremes of random', () => {
    for (const [i, scheduled] of policy.delaysMs.entries()) {
      expect(nextDelayMs(policy, i + 1, null, () => 0)).toBe(Math.floor(scheduled * 0.8));
      const high = nextDelayMs(policy, i + 1, null, () => ALMOST_ONE)!;
      expect(high).toBeLessThan(scheduled * 1.2);
      expect(high).toBeGreaterThan(scheduled * 1.19);
    }
  });

  it('stays within bounds over many Math.random draws, and actually spreads', () => {
    const scheduled = policy.delaysMs[1]!; // 5 m
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const delay = nextDelayMs(policy, 2, null, Math.random)!;
      expect(delay).toBeGreaterThanOrEqual(scheduled * 0.8);
      expect(delay).toBeLessThan(scheduled * 1.2);
      seen.add(delay);
    }
    expect(seen.size).toBeGreaterThan(1_000);
  });

  it('clamps a misbehaving random source', () => {
    expect(nextDelayMs(policy, 1, null, () => -3)).toBe(4_000);
    expect(nextDelayMs(policy, 1, null, () => 7)).toBeLessThan(6_000);
    expect(nextDelayMs(policy, 1, null, () => Number.NaN)).toBe(4_000);
  });

  describe('Retry-After', () => {
    it('is honoured when shorter than the scheduled delay, never earlier than asked', () => {
      // Scheduled 5 m; the CRM asks for 30 s.
      expect(nextDelayMs(policy, 2, 30_000, () => 0)).toBe(30_000);
      const high = nextDelayMs(policy, 2, 30_000, () => ALMOST_ONE)!;
      expect(high).toBeGreaterThanOrEqual(30_000);
      expect(high).toBeLessThan(36_000);
    });

    it('is capped at the scheduled delay when longer', () => {
      // Scheduled 5 s; the CRM asks for an hour.
      expect(nextDelayMs(policy, 1, 3_600_000, () => 0)).toBe(5_000);
      expect(nextDelayMs(policy, 1, 3_600_000, () => ALMOST_ONE)).toBeLessThan(6_000);
    });

    it('Retry-After: 0 retries at once', () => {
      expect(nextDelayMs(policy, 1, 0, () => ALMOST_ONE)).toBe(0);
    });

    it('stays within [min(ra, scheduled), scheduled × 1.2) over many draws', () => {
      for (let i = 0; i < 5_000; i++) {
        const retryAfter = Math.floor(Math.random() * 600_000);
        const delay = nextDelayMs(policy, 2, retryAfter, Math.random)!;
        expect(delay).toBeGreaterThanOrEqual(Math.min(retryAfter, 300_000));
        expect(delay).toBeLessThan(300_000 * 1.2);
      }
    });

    it('does not resurrect an exhausted schedule', () => {
      expect(nextDelayMs(policy, 8, 1_000, Math.random)).toBeNull();
    });

    it('ignores a negative or non-finite value (falls back to the jittered schedule)', () => {
      expect(nextDelayMs(policy, 1, -1, () => 0)).toBe(4_000);
      expect(nextDelayMs(policy, 1, Number.NaN, () => 0)).toBe(4_000);
    });
  });
});
