import type { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import type { DestinationConfig } from '../../domain/config.js';
import {
  DEFAULT_MAX_WAIT_MS,
  granted,
  heldRetryAt,
  paceIntervalMs,
  sleep,
  type DestinationLimits,
  type LimitDecision,
  type LimitsOptions,
} from '../../ports/destination-limits.js';

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
    let semaphore: Semaphore | null = null;
    if (maxInFlight !== null) {
      semaphore = new Semaphore(this.client, this.key(destination.id, 'in-flight'), maxInFlight, {
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
    const release = async (): Promise<void> => {
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

  /** The client belongs to the container, which closes it. */
  async close(): Promise<void> {}

  /** `{<id>}` is a hash tag: a destination's keys stay in one Redis Cluster slot. */
  private key(destinationId: string, what: string): string {
    return `${this.prefix}:{${destinationId}}:${what}`;
  }
}
