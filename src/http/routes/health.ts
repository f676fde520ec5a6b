import type { FastifyInstance } from 'fastify';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Metrics } from '../../observability/metrics.js';
import type { JobQueue } from '../../ports/job-queue.js';
import type { LeadStore } from '../../ports/lead-store.js';
import { open, type Schema } from '../schemas/responses.js';

/** A load balancer gives up after a few seconds; a hung backend must answer "not ready" first. */
export const DEFAULT_READY_CHECK_TIMEOUT_MS = 1000;

type CheckResult = 'ok' | 'failing' | 'timeout';

export interface Readiness {
  ok: boolean;
  status: 'ok' | 'unavailable' | 'draining';
  checks: Record<string, CheckResult>;
}

async function check(ping: () => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([
      // Promise.resolve().then: a ping that throws synchronously is a failing check, not a 500.
      Promise.resolve().then(ping).then(
        (): CheckResult => 'ok',
        (): CheckResult => 'failing',
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ReadinessDeps {
  store: LeadStore;
  queue: JobQueue;
  isDraining: () => boolean;
  /** How long /health/ready waits for each backend's ping. */
  readyCheckTimeoutMs?: number;
}

/** Store and queue answer, and the process is not draining: what /health/ready and `leadgate_ready` report. */
export function createReadinessCheck(deps: ReadinessDeps): () => Promise<Readiness> {
  const timeoutMs = deps.readyCheckTimeoutMs ?? DEFAULT_READY_CHECK_TIMEOUT_MS;
  return async (): Promise<Readiness> => {
    if (deps.isDraining()) return { ok: false, status: 'draining', checks: { draining: 'failing' } };
    const [store, queue] = await Promise.all([check(() => deps.store.ping(), timeoutMs), check(() => deps.queue.ping(), timeoutMs)]);
    const ok = store === 'ok' && queue === 'ok';
    return { ok, status: ok ? 'ok' : 'unavailable', checks: { store, queue } };
  };
}

const readinessSchema = (description: string): Schema => ({
  description,
  ...open({
    status: { type: 'string', description: '`ok`, `unavailable`, `draining` or `overloaded`' },
    checks: { type: 'object', additionalProperties: true, description: 'Each check and its result (`ok`, `failing`, `timeout`)' },
  }),
});

/** `/health/live` and `/health/ready`, on both listeners (the load balancer reads the public one). */
export function registerHealthRoutes(app: FastifyInstance, readiness: () => Promise<Readiness>): void {
  // Liveness says only "the event loop answers": restarting on a store outage would not help.
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: 200 while the process runs, even when overloaded',
        response: { 200: { description: 'Alive', ...open({ status: { type: 'string' } }) } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: store and queue answer, not draining, not overloaded',
        response: {
          200: readinessSchema('Ready'),
          503: {
            ...readinessSchema('Not ready: a check fails, the process is draining or overloaded'),
            headers: { 'Retry-After': { type: 'integer', description: 'Set when the instance is overloaded' } },
          },
        },
      },
    },
    async (_request, reply) => {
      const { ok, status, checks } = await readiness();
      return reply.code(ok ? 200 : 503).send({ status, checks });
    },
  );
}

/** `/metrics` (ops listener): the cluster gauges and `leadgate_ready` are computed at each scrape. */
export function registerMetricsRoute(
  app: FastifyInstance,
  deps: {
    metrics: Metrics;
    readiness: () => Promise<Readiness>;
    refreshStoreGauges: () => Promise<void>;
    workerMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  },
): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    async (_request, reply) => {
      const [readiness] = await Promise.all([deps.readiness(), deps.refreshStoreGauges()]);
      deps.metrics.ready.set(readiness.ok ? 1 : 0);
      const text = deps.workerMetrics
        ? await mergedMetrics(deps.metrics, await deps.workerMetrics())
        : await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}

/**
 * This thread's metrics with the worker thread's (same definitions, another registry): a metric
 * both have is summed per label set (each counter and gauge is only moved by one of the two
 * threads); one only this thread has (the process's default metrics) is kept as it is.
 */
async function mergedMetrics(metrics: Metrics, worker: MetricObjectWithValues<MetricValue<string>>[]): Promise<string> {
  const shared = new Set(worker.map((m) => m.name));
  const mine = (await metrics.registry.getMetricsAsJSON()).map((m) => (shared.has(m.name) ? m : { ...m, aggregator: 'first' as const }));
  return AggregatorRegistry.aggregate([mine, worker]).metrics();
}
