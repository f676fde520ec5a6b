import type { Env } from '../config/env.js';
import { openBackends } from '../container.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';

/** Opens the store and queue for an operator command and closes them after. */
export async function withBackends<T>(env: Env, fn: (store: LeadStore, queue: JobQueue) => Promise<T>): Promise<T> {
  const { store, queue } = await openBackends(env);
  try {
    if (env.LEADGATE_STORE === 'sqlite') await store.migrate();
    return await fn(store, queue);
  } finally {
    await queue.close();
    await store.close();
  }
}
