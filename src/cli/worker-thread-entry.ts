import { parentPort, workerData } from 'node:worker_threads';
import { PortHandoffSource } from '../adapters/sqlite/handoff-port.js';
import { loadEnv } from '../config/env.js';
import { createContainer } from '../container.js';
import { errorSummary } from '../observability/error-summary.js';
import type { FromThread, ToThread, WorkerThreadData } from './worker-thread.js';

/**
 * The worker thread of `leadgate serve` (started by worker-thread.ts): the worker runtime of
 * `leadgate worker`, with its own connections, driven by messages from the api thread.
 */
const port = parentPort!;
const data = workerData as WorkerThreadData;
const send = (message: FromThread) => port.postMessage(message);

const handoff = data.handoffPort ? new PortHandoffSource(data.handoffPort) : null;
// The environment was checked by the main thread; this is the same copy of it.
const container = await createContainer(
  loadEnv(),
  { api: false, worker: true },
  {
    demo: data.demo,
    workerThread: {
      handoff: handoff ?? undefined,
      onBreakerState: (destination, state) => send({ type: 'breaker', destination, state }),
    },
  },
);
const worker = container.worker!;

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'start':
      worker.start();
      return;
    case 'wake-erasures':
      worker.erasures.wake();
      return;
    case 'metrics':
      // A collector that throws costs this scrape the worker's figures, not the process.
      void container.metrics.registry
        .getMetricsAsJSON()
        .catch(() => [])
        .then((metrics) => send({ type: 'metrics', id: message.id, metrics }));
      return;
    case 'stop':
      void (async () => {
        try {
          await worker.stop();
          await container.close();
        } catch (error) {
          container.logger.error({ err: errorSummary(error) }, 'worker thread: problem while stopping');
        }
        data.handoffPort?.close();
        send({ type: 'stopped' });
      })();
  }
});
send({ type: 'ready' });
