import { setImmediate as nextTurn } from 'node:timers/promises';
import { errorSummary } from '../observability/error-summary.js';
import type { Logger } from '../observability/logger.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import type { Erasure } from '../ports/privacy-store.js';
import { audit } from './requests.js';

export interface ErasureRunnerDeps {
  store: LeadStore;
  queue: JobQueue;
  logger: Pick<Logger, 'info' | 'warn'>;
  now: () => number;
  /** Leads erased per store transaction: small keeps each write lock short. */
  batchSize: number;
  /** How often pending erasures are looked for (requests made by another process). */
  intervalMs?: number;
}

export interface ErasureRunner {
  start(): void;
  /** Look now (an erasure was just requested in this process). */
  wake(): void;
  /** One pass over the pending erasures; resolves with how many it finished. */
  runPending(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Runs erasures to the end. The store's record is the truth: a runner killed in the middle
 * leaves a pending erasure whose remaining leads are still indexed, and the next pass (this
 * process after a restart, or any other) carries on; each lead is erased in one transaction, so
 * none is ever half-erased. Safe on many workers at once: a lead erased twice is erased once.
 */
export function createErasureRunner(deps: ErasureRunnerDeps): ErasureRunner {
  const { store, logger } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let again = false;
  let stopped = false;

  const pass = (): Promise<number> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let finished = 0;
      do {
        again = false;
        for (const erasure of await store.pendingErasures(100)) {
          if (stopped) break;
          await runErasure(deps, erasure);
          finished += 1;
        }
      } while (again && !stopped);
      return finished;
    })().finally(() => (running = null));
    return running;
  };

  const tick = () => {
    pass().catch((err: unknown) => logger.warn({ err: errorSummary(err) }, 'erasure failed, will try again'));
  };

  return {
    start() {
      if (timer) return;
      stopped = false;
      timer = setInterval(tick, deps.intervalMs ?? 5_000);
      timer.unref();
      tick();
    },
    wake: tick,
    runPending: pass,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}

/** One erasure, batch after batch, then done; its notices are announced to the queue as they are made. */
export async function runErasure(deps: Omit<ErasureRunnerDeps, 'intervalMs'>, erasure: Erasure): Promise<void> {
  const { store, queue, logger, now } = deps;
  for (;;) {
    const step = await store.eraseNext(erasure.id, deps.batchSize, now());
    if (step.notices.length > 0) {
      try {
        await queue.enqueue(step.notices.map((d) => ({ deliveryId: d.id, runAt: now() })));
      } catch (err) {
        // Durable already: the sweeper announces them.
        logger.warn({ err: errorSummary(err), erasureId: erasure.id }, 'enqueue failed, sweeper will pick up');
      }
    }
    if (step.done) break;
    await nextTurn(); // let requests and deliveries through between two transactions
  }
  const scrubbed = await store.completeErasure(erasure.id, now());
  if (!scrubbed) logger.warn({ erasureId: erasure.id }, 'erasure done, but another process held the WAL: the next checkpoint scrubs it');
  const done = await store.getErasure(erasure.id);
  await audit(
    { store, logger, now },
    { action: 'erasure_done', actor: 'worker', identity: erasure.identities[0] ?? '', brand: erasure.brand, leads: done?.leads ?? null, erasureId: erasure.id },
  );
}
