import { setTimeout } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { Env } from '../config/env.js';
import { createContainer, type Roles } from '../container.js';
import { opsListener } from '../config/env.js';
import { buildOpsApp } from '../http/ops-app.js';
import { buildPublicApp } from '../http/public-app.js';
import { createReadinessCheck } from '../http/routes/health.js';
import { startWorkerThread, type ServeWorker } from './worker-thread.js';

/**
 * Starts the api and/or the worker and installs the SIGTERM drain (CONTRACT.md, Shutdown):
 * readiness turns 503 at once, the listener stops accepting, in-flight requests and
 * deliveries finish, leases are released, then exit 0.
 */
export async function runServer(env: Env, roles: Roles, options: { demo?: boolean } = {}): Promise<void> {
  // serve: the worker on its own thread (worker-thread.ts), so ingest and deliveries use two cores.
  const workerOnThread = roles.api && roles.worker;
  const container = await createContainer(env, workerOnThread ? { api: true, worker: false } : roles, options);
  const { config, logger, metrics, store, queue } = container;
  const runtime = container.worker;
  const worker: ServeWorker | null = workerOnThread
    ? await startWorkerThread({ demo: options.demo ?? false, handoff: container.handoff, logger })
    : runtime && {
        breakerState: (id) => runtime.breakers.state(id),
        wakeErasures: () => runtime.erasures.wake(),
        start: () => runtime.start(),
        stop: () => runtime.stop(),
      };
  let draining = false;
  const isDraining = () => draining;

  const readiness = createReadinessCheck({ store, queue, isDraining, readyCheckTimeoutMs: env.LEADGATE_READY_CHECK_TIMEOUT_MS });

  // The public listener exists only with the api; the ops listener in every process.
  const publicApp = container.acceptLead
    ? await buildPublicApp({
        config,
        metrics,
        logger,
        accept: container.acceptLead,
        budgets: container.budgets,
        unknownKeyPerMinute: env.LEADGATE_UNKNOWN_KEY_PER_MINUTE,
        readiness,
        isDraining,
        trustProxy: env.LEADGATE_TRUST_PROXY,
        overload: {
          maxEventLoopDelayMs: env.LEADGATE_MAX_EVENT_LOOP_DELAY_MS,
          maxHeapUsedBytes: env.LEADGATE_MAX_HEAP_USED_BYTES,
          maxRssBytes: env.LEADGATE_MAX_RSS_BYTES,
        },
      })
    : null;
  const ops = opsListener(env, { workerOnly: !roles.api });
  const opsApp = ops
    ? await buildOpsApp({
        config,
        store,
        queue,
        queueBackend: env.LEADGATE_QUEUE,
        metrics,
        logger,
        readiness,
        budgets: container.budgets,
        adminToken: env.LEADGATE_ADMIN_TOKEN ?? null,
        demoCrm: container.configSource.isBundledExample,
        breakerState: worker ? (id: string) => worker.breakerState(id) : undefined,
        workerMetrics: worker?.metrics ? () => worker.metrics!() : undefined,
        trustProxy: env.LEADGATE_OPS_TRUST_PROXY,
        privacy: container.privacy,
        onErasureRequested: worker ? () => worker.wakeErasures() : undefined,
      })
    : null;

  closeWithGrace(
    {
      delay: env.SHUTDOWN_TIMEOUT_MS,
      logger: { error: (msg: unknown) => logger.error({ detail: String(msg) }, 'shutdown problem') },
      onTimeout: (delay: number) => {
        // What did not finish is not lost: unfinished deliveries keep their lease and are
        // claimed again once it expires; a client whose request was cut retries it.
        logger.warn({ delayMs: delay }, 'shutdown timed out; leaving unfinished work to be retried');
        process.exit(0);
      },
    },
    async ({ signal, err }) => {
      draining = true;
      if (err) logger.error({ err }, 'fatal error, shutting down');
      else logger.info({ signal }, 'shutting down');
      // Readiness already answers 503; keep serving until the load balancer has noticed.
      if (roles.api && env.SHUTDOWN_DRAIN_DELAY_MS > 0) await setTimeout(env.SHUTDOWN_DRAIN_DELAY_MS);
      await publicApp?.close();
      await worker?.stop();
      await opsApp?.close();
      await container.close();
      logger.info('shut down');
    },
  );

  if (publicApp) await publicApp.listen({ port: env.PORT, host: env.HOST });
  if (opsApp && ops) await opsApp.listen(ops);
  worker?.start();
  logger.info(
    {
      roles: Object.keys(roles).filter((r) => roles[r as keyof Roles]),
      store: env.LEADGATE_STORE,
      queue: env.LEADGATE_QUEUE,
      config: container.configSource.path,
      demo: container.configSource.isBundledExample,
      address: publicApp ? publicApp.server.address() : null,
      opsAddress: opsApp ? opsApp.server.address() : null,
    },
    'leadgate started',
  );
}
