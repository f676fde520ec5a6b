import type { FastifyBaseLogger } from 'fastify';
import type { Delivery, DeliveryStatus } from '../domain/delivery.js';
import { errorSummary } from '../observability/error-summary.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';

/**
 * What the admin API and the ops console both do to deliveries, written once: make them
 * pending again in the store (the truth), then tell the queue. Store errors propagate (each
 * caller turns them into its own 503); a failed enqueue does not, the sweeper covers it.
 */
export interface ReplayDeps {
  store: LeadStore;
  queue: JobQueue;
  now: () => number;
  log: FastifyBaseLogger;
}

/** Replayed deliveries are durable already; a failed enqueue is left to the sweeper. */
async function announce(deps: ReplayDeps, deliveries: Delivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  try {
    await deps.queue.enqueue(deliveries.map((d) => ({ deliveryId: d.id, runAt: deps.now() })));
  } catch (err) {
    deps.log.warn({ err: errorSummary(err), count: deliveries.length }, 'enqueue failed, sweeper will pick up');
  }
}

/** One delivery, same id: null when there is no such delivery, else its status afterwards. */
export async function replayDelivery(deps: ReplayDeps, id: string): Promise<DeliveryStatus | null> {
  const existing = await deps.store.getDelivery(id);
  if (existing === null) return null;
  const replayed = await deps.store.replay({ deliveryId: id });
  await announce(deps, replayed);
  return replayed.length > 0 ? 'pending' : existing.status;
}

/** A destination's dead deliveries (last changed within since..until): how many are pending again. */
export async function replayDead(
  deps: ReplayDeps,
  selector: { destination: string; since?: number; until?: number },
): Promise<number> {
  const replayed = await deps.store.replay({ ...selector, status: 'dead' });
  await announce(deps, replayed);
  return replayed.length;
}
