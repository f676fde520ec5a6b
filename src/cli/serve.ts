import { setTimeout } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { Env } from '../config/env.js';
import { createContainer, createDestinationClient, createDestinationLimits, createTokenProvider, needsSweeper } from '../container.js';
import { buildApp } from '../http/app.js';
import { CircuitBreakers } from '../worker/circuit-breakers.js';
import { createDeliveryGate } from '../worker/delivery-gate.js';
import { createSweeper } from '../worker/sweeper.js';
import { createWorker } from '../worker/worker.js';

export interface Roles {
  api: boolean;
  worker: boolean;
}

/**
 * Starts the api and/or the worker and installs the SIGTERM drain (CONTRACT.md, Shutdown):
 * readiness turns 503 at once, the listener stops accepting, in-flight requests and
 * deliveries finish, leases are released, then exit 0.
 */
export async function runServer(env: Env, roles: Roles): Promise<void> {
  const container = await createContainer(env);
  const { config, logger, metrics, store, queue } = container;
  let draining = false;

  const client = roles.worker ? createDestinationClient() : null;
  const tokens = roles.worker ? createTokenProvider() : null;
  // Protecting CRMs: breakers live in this process; limits in Redis (bullmq) or here; pause in the store.
  const breakers = roles.worker ? new CircuitBreakers({ metrics, logger }) : null;
  const limits = roles.worker ? await createDestinationLimits(env) : null;
  const gate = breakers && limits ? createDeliveryGate({ store, breakers, limits: limits.limits, metrics }) : undefined;
  const worker = client && tokens
    ? createWorker({ config, store, queue, client, tokens, gate, metrics, logger, concurrency: env.LEADGATE_WORKER_CONCURRENCY })
    : null;
  // One sweeper per worker process, safe on many: it only re-announces overdue deliveries.
  const sweeper = worker && needsSweeper(env) ? createSweeper({
          store,
          queue,
          logger,
          intervalMs: env.LEADGATE_SWEEP_INTERVAL_MS,
          graceMs: env.LEADGATE_SWEEP_GRACE_MS,
        }) : null;
  const app = roles.api
    ? await buildApp({
        config,
        store,
        queue,
        metrics,
        logger,
        adminToken: env.LEADGATE_ADMIN_TOKEN ?? null,
        isDraining: () => draining,
        demoCrm: container.configSource.isBundledExample,
        breakerState: breakers ? (id) => breakers.state(id) : undefined,
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
      if (app && env.SHUTDOWN_DRAIN_DELAY_MS > 0) await setTimeout(env.SHUTDOWN_DRAIN_DELAY_MS);
      await app?.close();
      await sweeper?.stop();
      await worker?.stop();
      await limits?.close();
      await client?.close();
      await tokens?.close();
      await container.close();
      logger.info('shut down');
    },
  );

  if (app) {
    await app.listen({ port: env.PORT, host: env.HOST });
  }
  worker?.start();
  sweeper?.start();
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
