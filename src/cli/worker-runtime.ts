import type { Env } from '../config/env.js';
import { createDestinationClient, createDestinationLimits, createTokenProvider, needsSweeper, type Container } from '../container.js';
import { CircuitBreakers } from '../worker/circuit-breakers.js';
import { createDeliveryGate } from '../worker/delivery-gate.js';
import { createSweeper } from '../worker/sweeper.js';
import { createWorker } from '../worker/worker.js';

/** Everything a worker process runs, assembled from the container, with one start and one stop. */
export interface WorkerRuntime {
  /** This process's circuit breakers, for the admin view. */
  breakers: CircuitBreakers;
  start(): void;
  /** Stops taking deliveries, waits for those in flight, then closes what the worker opened. */
  stop(): Promise<void>;
}

export async function createWorkerRuntime(env: Env, container: Container): Promise<WorkerRuntime> {
  const { config, logger, metrics, store, queue } = container;
  const client = createDestinationClient();
  const tokens = createTokenProvider();
  // Protecting CRMs: breakers live in this process; limits in Redis (bullmq) or here; pause in the store.
  const breakers = new CircuitBreakers({ metrics, logger });
  const limits = await createDestinationLimits(env);
  const gate = createDeliveryGate({ store, breakers, limits: limits.limits, metrics });
  const worker = createWorker({ config, store, queue, client, tokens, gate, metrics, logger, concurrency: env.LEADGATE_WORKER_CONCURRENCY });
  // One sweeper per worker process, safe on many: it only re-announces overdue deliveries.
  const sweeper = needsSweeper(env)
    ? createSweeper({ store, queue, logger, intervalMs: env.LEADGATE_SWEEP_INTERVAL_MS, graceMs: env.LEADGATE_SWEEP_GRACE_MS })
    : null;

  return {
    breakers,
    start() {
      worker.start();
      sweeper?.start();
    },
    async stop() {
      await sweeper?.stop();
      await worker.stop();
      await limits.close();
      await client.close();
      await tokens.close();
    },
  };
}
