import { setTimeout } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Env } from '../config/env.js';
import { createContainer, type Roles } from '../container.js';
import { buildApp } from '../http/app.js';
import { buildOpsApp } from '../http/ops-app.js';

/**
 * Starts the api and/or the worker and installs the SIGTERM drain (CONTRACT.md, Shutdown):
 * readiness turns 503 at once, the listener stops accepting, in-flight requests and
 * deliveries finish, leases are released, then exit 0.
 */
export async function runServer(env: Env, roles: Roles): Promise<void> {
  const container = await createContainer(env, roles);
  const { config, logger, metrics, store, queue, worker } = container;
  let draining = false;
  const isDraining = () => draining;

  // What the api and the worker's metrics listener both need.
  const listenerDeps = {
    config,
    store,
    queue,
    queueBackend: env.LEADGATE_QUEUE,
    metrics,
    logger,
    isDraining,
    readyCheckTimeoutMs: env.LEADGATE_READY_CHECK_TIMEOUT_MS,
  };
  let app: FastifyInstance | null = null;
  let port = env.PORT;
  if (roles.api) {
    app = await buildApp({
      ...listenerDeps,
      adminToken: env.LEADGATE_ADMIN_TOKEN ?? null,
      demoCrm: container.configSource.isBundledExample,
      breakerState: worker ? (id) => worker.breakers.state(id) : undefined,
      overload: {
        maxEventLoopDelayMs: env.LEADGATE_MAX_EVENT_LOOP_DELAY_MS,
        maxHeapUsedBytes: env.LEADGATE_MAX_HEAP_USED_BYTES,
        maxRssBytes: env.LEADGATE_MAX_RSS_BYTES,
      },
    });
  } else if (env.LEADGATE_WORKER_METRICS_PORT !== undefined) {
    // A worker alone has no api; this listener lets Prometheus scrape its delivery metrics.
    app = await buildOpsApp(listenerDeps);
    port = env.LEADGATE_WORKER_METRICS_PORT;
  }

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
      await app?.close();
      await worker?.stop();
      await container.close();
      logger.info('shut down');
    },
  );

  if (app) await app.listen({ port, host: env.HOST });
  worker?.start();
  logger.info(
    {
      roles: Object.keys(roles).filter((r) => roles[r as keyof Roles]),
      store: env.LEADGATE_STORE,
      queue: env.LEADGATE_QUEUE,
      config: container.configSource.path,
      demo: container.configSource.isBundledExample,
      address: app ? app.server.address() : null,
    },
    'leadgate started',
  );
}
