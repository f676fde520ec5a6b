import { describe, expect, it } from 'vitest';
import { MemoryDestinationLimits } from '../../src/adapters/memory/destination-limits.js';
import { AIMD, aimdNext, loadSignal, paceIntervalMs, type AimdState, type LimitDecision } from '../../src/ports/destination-limits.js';
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
  it('without limits grants at once, up to the 64 connections of the destination client', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: c.sleep, maxWaitMs: 0 });
    const dest = destination({ id: 'crm', url: 'http://crm.test' });
    for (let i = 0; i < AIMD.defaultCeiling; i++) granted(await limits.acquire(dest));
    expect(c.t).toBe(1_000_000);
    // More would only wait inside the HTTP client, out of reach of a cut or a Retry-After pause.
    expect(await limits.acquire(dest)).toMatchObject({ kind: 'held', reason: 'max_in_flight' });
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

describe('adaptive concurrency (AIMD) and Retry-After', () => {
  const overload = { kind: 'overload', retryAfterMs: null } as const;
  const success = { kind: 'success' } as const;

  it('aimdNext: an overload halves once per round, successes add 1 / limit up to the ceiling', () => {
    let s: AimdState = { limit: null, cutAt: 0 };
    s = aimdNext(s, overload, 100, 200, 64, 10); // 10 in flight: the cut starts from 10, not 64
    expect(s).toEqual({ limit: 5, cutAt: 200 });
    expect(aimdNext(s, overload, 150, 210, 64)).toBe(s); // started before the cut: same round
    s = aimdNext(s, overload, 205, 220, 64);
    expect(s.limit).toBe(2);
    s = aimdNext(aimdNext(s, overload, 230, 240, 64), overload, 250, 260, 64);
    expect(s.limit).toBe(1); // the floor
    s = aimdNext(s, success, 300, 310, 64);
    expect(s.limit).toBe(2);
    s = aimdNext(s, success, 300, 310, 64);
    expect(s.limit).toBe(2.5);
    expect(aimdNext(s, { kind: 'neutral' }, 300, 310, 64)).toBe(s);
    expect(aimdNext({ limit: 63.99, cutAt: 0 }, success, 0, 0, 64).limit).toBeNull(); // back to max_in_flight only
  });

  it('loadSignal: 429 and 503 (with Retry-After), timeouts and network errors are overload; 2xx success; other statuses neutral', () => {
    expect(loadSignal({ kind: 'response', statusCode: 200, retryAfterMs: null })).toEqual(success);
    expect(loadSignal({ kind: 'response', statusCode: 429, retryAfterMs: 2_000 })).toEqual({ kind: 'overload', retryAfterMs: 2_000 });
    expect(loadSignal({ kind: 'response', statusCode: 503, retryAfterMs: null })).toEqual(overload);
    expect(loadSignal({ kind: 'failure' })).toEqual(overload);
    expect(loadSignal({ kind: 'response', statusCode: 500, retryAfterMs: null })).toEqual({ kind: 'neutral' });
    expect(loadSignal({ kind: 'response', statusCode: 400, retryAfterMs: null })).toEqual({ kind: 'neutral' });
  });

  it('a cut limit holds the surplus under max_in_flight, and successes give the slots back', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: c.sleep, maxWaitMs: 0 });
    const dest = destination({ id: 'crm', url: 'http://crm.test', maxInFlight: 8 });
    const permits = [];
    for (let i = 0; i < 8; i++) permits.push(granted(await limits.acquire(dest)));
    expect((await limits.acquire(dest)).kind).toBe('held');
    c.t += 1;
    await permits[0]!.release(overload); // 8 in flight: limit 4
    expect(await limits.adaptiveLimit('crm')).toBe(4);
    // 7 still in flight: nothing new until fewer than 4 are.
    expect(await limits.acquire(dest)).toMatchObject({ kind: 'held', reason: 'max_in_flight' });
    for (const p of permits.slice(1, 5)) await p.release(overload); // started before the cut: no further cut
    expect(await limits.adaptiveLimit('crm')).toBe(4);
    expect(limits.inFlightCount('crm')).toBe(3);
    const next = granted(await limits.acquire(dest));
    expect((await limits.acquire(dest)).kind).toBe('held');
    for (const p of [...permits.slice(5), next]) await p.release(success);
    expect(await limits.adaptiveLimit('crm')).toBeCloseTo(4 + 1 / 4 + 1 / 4.25 + 1 / (4.25 + 1 / 4.25) + 1 / 4.71, 1);
    for (let i = 0; i < 200; i++) await granted(await limits.acquire(dest)).release(success);
    expect(await limits.adaptiveLimit('crm')).toBeNull();
  });

  it('Retry-After on a 429 pauses the destination: waited out when short, held until it ends when long', async () => {
    const c = clock();
    const limits = new MemoryDestinationLimits({ now: c.now, sleep: c.sleep, random: () => 0, maxWaitMs: 1_000 });
    const dest = destination({ id: 'crm', url: 'http://crm.test' });
    await granted(await limits.acquire(dest)).release({ kind: 'overload', retryAfterMs: 5_000 });
    const held = await limits.acquire(dest);
    expect(held).toEqual({ kind: 'held', reason: 'retry_after', retryAt: 1_000_000 + 5_000 });
    c.t += 4_500;
    const start = c.t;
    granted(await limits.acquire(dest)); // 500 ms left: waits them out
    expect(c.t).toBe(start + 500);
  });
});
