import type { Env } from '../config/env.js';
import { withBackends } from '../container.js';

/** `leadgate migrate`: prepares the store and the queue; safe to run on every deploy. */
export async function migrate(env: Env): Promise<number> {
  return withBackends(env, async (store, queue) => {
    await store.migrate();
    await queue.migrate();
    console.log(`migrated: store ${env.LEADGATE_STORE}, queue ${env.LEADGATE_QUEUE}`);
    return 0;
  });
}
