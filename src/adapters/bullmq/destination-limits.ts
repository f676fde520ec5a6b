import type { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import type { DestinationConfig } from '../../domain/config.js';
import {
  AIMD,
  DEFAULT_MAX_WAIT_MS,
  MAX_RETRY_AFTER_PAUSE_MS,
  adaptiveCeiling,
  granted,
  heldRetryAt,
  paceIntervalMs,
  sleep,
  type DestinationLimits,
  type LimitDecision,
  type LimitsOptions,
  type LoadSignal,
} from '../../ports/destination-limits.js';

/**
 * Before a request: how long a Retry-After still pauses the destination (ms, on Redis's clock)
 * and its adaptive limit (-1: not cut). KEYS: pause, aimd.
 */
const PRELUDE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pausedUntil = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit') or '-1')
local wait = pausedUntil - now
if wait < 0 then wait = 0 end
return {wait, tostring(limit)}
`;

/**
 * After a request: the AIMD step of aimdNext (src/ports/destination-limits.ts) on the shared
 * state, and the Retry-After pause. KEYS: pause, aimd, semaphore (its ZCARD is the in-flight
 * count when max_in_flight or a cut limit is in force). ARGV: kind (overload | success),
 * startedAt ms, now ms, ceiling, retryAfter ms (0: none), decrease, floor, state TTL ms.
 */
const OBSERVE_SCRIPT = `
local kind = ARGV[1]
local startedAt = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local ceiling = tonumber(ARGV[4])
local retryAfter = tonumber(ARGV[5])
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit') or '-1')
local cutAt = tonumber(redis.call('HGET', KEYS[2], 'cutAt') or '0')
if kind == 'overload' then
  if retryAfter > 0 then
    local t = redis.call('TIME')
    local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local untilMs = rnow + retryAfter
    local current = tonumber(redis.call('GET', KEYS[1]) or '0')
    if untilMs > current then redis.call('SET', KEYS[1], tostring(untilMs), 'PX', retryAfter + 1000) end
  end
  if limit >= 0 and startedAt < cutAt then return tostring(limit) end
  local from = ceiling
  if limit >= 0 and limit < from then from = limit end
  local inFlight = redis.call('ZCARD', KEYS[3])
  if inFlight > 0 and inFlight < from then from = inFlight end
  local nextLimit = math.floor(from * tonumber(ARGV[6]))
  if nextLimit < tonumber(ARGV[7]) then nextLimit = tonumber(ARGV[7]) end
  redis.call('HSET', KEYS[2], 'limit', tostring(nextLimit), 'cutAt', tostring(now))
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[8]))
  return tostring(nextLimit)
end
if limit < 0 then return '-1' end
local grown = limit + 1 / limit
if grown >= ceiling then
  redis.call('DEL', KEYS[2])
  return '-1'
end
redis.call('HSET', KEYS[2], 'limit', tostring(grown))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[8]))
return tostring(grown)
`;

/** A cut limit left alone this long (no request to the destination) is forgotten. */
const AIMD_TTL_MS = 10 * 60_000;

/**
 * GCRA pacing in one atomic step, on Redis's own clock (TIME), so workers on hosts whose clocks
 * disagree still share one schedule. KEYS[1]: the destination's theoretical arrival time (ms).
 * ARGV: interval ms, horizon ms. Returns {1, wait} when a start `wait` ms from now is reserved,
 * {0, wait} when the next start is further away than the horizon (nothing reserved).
 */
const PACE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > horizon then return {0, wait} end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(wait + interval) + 1000)
return {1, wait}
`;

export interface RedisLimitsOptions extends LimitsOptions {
  /** Owned by the caller; a fail-fast connection (no offline queue) so an outage rejects instead of hanging. */
  client: Redis;
  /** Key prefix, e.g. `leadgate:limits`. */
  prefix?: string;
  /** Polling interval while waiting for an in-flight slot (redis-semaphore's retryInterval). Default 25 ms. */
  retryIntervalMs?: number;
  /** Reported when a slot cannot be released (it then expires with its lease). */
  onError?: (error: unknown) => void;
}

/**
 * Limits shared by every worker on one Redis (LEADGATE_QUEUE=bullmq):
 * - Retry-After pause and the AIMD limit: the prelude and observe scripts above (a success
 *   costs a Redis call only while the limit is cut);
 * - rate: the GCRA script above, one key per destination;
 * - max_in_flight: redis-semaphore's Semaphore (a sorted set of holders with timestamps): each
 *   slot is a lease of the destination's timeout + 10 s, not refreshed (a request cannot outlive
 *   its timeout), so the slot of a worker killed mid-request frees itself after that lease.
 *
 * Redis errors propagate: the handler rejects and the queue runs the job again later.
 */
export class RedisDestinationLimits implements DestinationLimits {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly maxWaitMs: number;
  private readonly retryIntervalMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onError: (error: unknown) => void;

  constructor(options: RedisLimitsOptions) {
    this.client = options.client;
    this.prefix = options.prefix ?? 'leadgate:limits';
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.retryIntervalMs = options.retryIntervalMs ?? 25;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleep;
    this.onError = options.onError ?? (() => {});
  }

  async acquire(destination: DestinationConfig): Promise<LimitDecision> {
    const start = this.now();
    const { maxInFlight, rateLimitPerSecond } = destination;
    const [pauseWait, limitText] = (await this.client.eval(
      PRELUDE_SCRIPT,
      2,
      this.key(destination.id, 'pause'),
      this.key(destination.id, 'aimd'),
    )) as [number, string];
    const wait = Number(pauseWait);
    if (wait > this.maxWaitMs) {
      return { kind: 'held', reason: 'retry_after', retryAt: heldRetryAt(start, wait, this.maxWaitMs, this.random) };
    }
    if (wait > 0) await this.sleep(wait);
    const adaptive = Number(limitText);
    const cut = adaptive >= 0;
    const slots = Math.min(maxInFlight ?? Infinity, cut ? Math.max(AIMD.floor, Math.floor(adaptive)) : Infinity);
    let semaphore: Semaphore | null = null;
    const startedAt = this.now();
    if (slots !== Infinity) {
      semaphore = new Semaphore(this.client, this.key(destination.id, 'in-flight'), slots, {
        lockTimeout: destination.timeoutMs + 10_000,
        acquireTimeout: this.maxWaitMs,
        retryInterval: this.retryIntervalMs,
        // No refresh timer: its failures would surface as unhandled rejections, and the lease
        // already outlasts the request.
        refreshInterval: 0,
        onLockLost: () => {},
      });
      if (!(await semaphore.tryAcquire())) {
        return { kind: 'held', reason: 'max_in_flight', retryAt: heldRetryAt(this.now(), 0, this.maxWaitMs, this.random) };
      }
    }
    const release = async (signal?: LoadSignal): Promise<void> => {
      // A success only matters while the limit is cut; an overload always does.
      if (signal && (signal.kind === 'overload' || (signal.kind === 'success' && cut))) {
        await this.observe(destination, signal, startedAt).catch((error: unknown) => this.onError(error));
      }
      await semaphore?.release().catch((error: unknown) => this.onError(error));
    };
    if (rateLimitPerSecond !== null) {
      const horizon = Math.max(0, this.maxWaitMs - (this.now() - start));
      let reply: [number, number];
      try {
        reply = (await this.client.eval(
          PACE_SCRIPT,
          1,
          this.key(destination.id, 'pace'),
          String(paceIntervalMs(rateLimitPerSecond)),
          String(horizon),
        )) as [number, number];
      } catch (error) {
        await release();
        throw error;
      }
      const [reserved, wait] = reply.map(Number) as [number, number];
      if (reserved !== 1) {
        await release();
        return { kind: 'held', reason: 'rate_limit', retryAt: heldRetryAt(this.now(), wait, this.maxWaitMs, this.random) };
      }
      if (wait > 0) await this.sleep(wait);
    }
    return granted(release);
  }

  async adaptiveLimit(destinationId: string): Promise<number | null> {
    const limit = await this.client.hget(this.key(destinationId, 'aimd'), 'limit');
    return limit === null ? null : Number(limit);
  }

  private async observe(destination: DestinationConfig, signal: LoadSignal, startedAt: number): Promise<void> {
    const retryAfter = signal.kind === 'overload' && signal.retryAfterMs !== null ? Math.min(MAX_RETRY_AFTER_PAUSE_MS, Math.max(0, Math.ceil(signal.retryAfterMs))) : 0;
    await this.client.eval(
      OBSERVE_SCRIPT,
      3,
      this.key(destination.id, 'pause'),
      this.key(destination.id, 'aimd'),
      `semaphore:${this.key(destination.id, 'in-flight')}`,
      signal.kind,
      String(startedAt),
      String(this.now()),
      String(adaptiveCeiling(destination)),
      String(retryAfter),
      String(AIMD.decrease),
      String(AIMD.floor),
      String(AIMD_TTL_MS),
    );
  }

  /** The client belongs to the container, which closes it. */
  async close(): Promise<void> {}

  /** `{<id>}` is a hash tag: a destination's keys stay in one Redis Cluster slot. */
  private key(destinationId: string, what: string): string {
    return `${this.prefix}:{${destinationId}}:${what}`;
  }
}
