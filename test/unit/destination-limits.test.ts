import { describe, expect, it } from 'vitest';
import { MemoryDestinationLimits } from '../../src/adapters/memory/destination-limits.js';
import { paceIntervalMs, type LimitDecision } from '../../src/ports/destination-limits.js';
import { destination } from '../helpers/config-factories.js';

/** A clock the test moves; sleeping moves it (no real time passes). */
function clock(start = 1_000_000) {
  const c = {
    t: start,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

const granted = (d: LimitDecision) => {
  if (d.kind !== 'granted') throw new Error(`expected granted, got held (${d.reason})`);
  return d;
};

describe('MemoryDestinationLimits', () => {
  it('without limits grants at once', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: c.sleep });
    const dest = destination({ id: 'crm', url: 'http://crm.test' });
    for (let i = 0; i < 100; i++) granted(await limits.acquire(dest));
    expect(c.t).toBe(1_000_000);
  });

  it('paces rate_limit: one start per 1000/N ms (+5 %), never N + 1 in any second', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: c.sleep, maxWaitMs: 10_000 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', rateLimitPerSecond: 5 });
    const starts: number[] = [];
    for (let i = 0; i < 20; i++) {
      granted(await limits.acquire(dest));
      starts.push(c.t);
    }
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    for (const gap of gaps) expect(gap).toBeCloseTo(paceIntervalMs(5), 6);
    for (const t of starts) expect(starts.filter((s) => s >= t && s < t + 1000).length).toBeLessThanOrEqual(5);
  });

  it('holds when the next rate slot is beyond maxWait, with retryAt after it and spread', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: async () => {}, maxWaitMs: 1_000, random: () => 0.5 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', rateLimitPerSecond: 2 });
    // 2/s: starts at 0, 525, 1050 ms ahead; the clock does not move (sleep is a no-op), so the
    // third is 1050 ms away, beyond maxWait.
    granted(await limits.acquire(dest));
    granted(await limits.acquire(dest));
    const held = await limits.acquire(dest);
    expect(held).toMatchObject({ kind: 'held', reason: 'rate_limit' });
    if (held.kind !== 'held') return;
    expect(held.retryAt).toBeGreaterThanOrEqual(c.t + 1_050);
    expect(held.retryAt).toBeLessThanOrEqual(c.t + 1_050 + 1_000);
    // Nothing was reserved for the held one: after 1050 ms the next is granted at once.
    c.t += 1_050;
    granted(await limits.acquire(dest));
  });

  it('max_in_flight: at most N at once; release lets the next one in, a waiter first', async () => {
    const limits = new MemoryDestinationLimits({ maxWaitMs: 5_000 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', maxInFlight: 2 });
    const a = granted(await limits.acquire(dest));
    granted(await limits.acquire(dest));
    expect(limits.inFlightCount('crm')).toBe(2);
    const waiting = limits.acquire(dest);
    let settled = false;
    void waiting.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await a.release();
    await a.release(); // twice is harmless
    granted(await waiting);
    expect(limits.inFlightCount('crm')).toBe(2);
    // Other destinations are not affected.
    granted(await limits.acquire(destination({ id: 'other', url: 'http://o.test', maxInFlight: 1 })));
  });

  it('max_in_flight: held when no slot frees within maxWait', async () => {
    const limits = new MemoryDestinationLimits({ maxWaitMs: 20, random: () => 0 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', maxInFlight: 1 });
    granted(await limits.acquire(dest));
    const before = Date.now();
    const held = await limits.acquire(dest);
    expect(held).toMatchObject({ kind: 'held', reason: 'max_in_flight' });
    if (held.kind === 'held') expect(held.retryAt).toBeGreaterThanOrEqual(before + 20);
    expect(limits.inFlightCount('crm')).toBe(1);
  });

  it('a rate hold gives the in-flight slot back', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: async () => {}, maxWaitMs: 0 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', maxInFlight: 5, rateLimitPerSecond: 1 });
    granted(await limits.acquire(dest));
    expect(await limits.acquire(dest)).toMatchObject({ kind: 'held', reason: 'rate_limit' });
    expect(limits.inFlightCount('crm')).toBe(1);
  });
});
