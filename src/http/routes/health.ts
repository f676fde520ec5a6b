import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import type { JobQueue } from '../../ports/job-queue.js';
import type { LeadStore } from '../../ports/lead-store.js';

/** A load balancer gives up after a few seconds; a hung backend must answer "not ready" first. */
export const DEFAULT_READY_CHECK_TIMEOUT_MS = 1000;

type CheckResult = 'ok' | 'failing' | 'timeout';

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

export interface HealthRouteDeps {
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  isDraining: () => boolean;
  refreshStoreGauges: () => Promise<void>;
  /** How long /health/ready waits for each backend's ping. */
  readyCheckTimeoutMs?: number;
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthRouteDeps): void {
  // Liveness says only "the event loop answers": restarting on a store outage would not help.
  app.get('/health/live', async () => ({ status: 'ok' }));

  app.get('/health/ready', async (_request, reply) => {
    if (deps.isDraining()) {
      deps.metrics.ready.set(0);
      return reply.code(503).send({ status: 'draining', checks: { draining: 'failing' } });
    }
    const timeoutMs = deps.readyCheckTimeoutMs ?? DEFAULT_READY_CHECK_TIMEOUT_MS;
    const [store, queue] = await Promise.all([check(() => deps.store.ping(), timeoutMs), check(() => deps.queue.ping(), timeoutMs)]);
    const ok = store === 'ok' && queue === 'ok';
    deps.metrics.ready.set(ok ? 1 : 0);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: { store, queue } });
  });

  app.get('/metrics', async (_request, reply) => {
    await deps.refreshStoreGauges();
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
