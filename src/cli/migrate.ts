import type { Env } from '../config/env.js';
import { openBackends } from '../container.js';

/** `leadgate migrate`: prepares the store and the queue; safe to run on every deploy. */
export async function migrate(env: Env): Promise<number> {
  const { store, queue } = await openBackends(env);
  try {
    await store.migrate();
    await queue.migrate();
    console.log(`migrated: store ${env.LEADGATE_STORE}, queue ${env.LEADGATE_QUEUE}`);
    return 0;
  } finally {
    await queue.close();
    await store.close();
  }
}
