import type { Env } from '../config/env.js';
import { loadConfig, withBackends } from '../container.js';
import { UsageError } from './usage-error.js';

/**
 * `leadgate destination pause <id>` / `resume <id>`: the same as the admin API's
 * POST /v1/destinations/:id/pause|resume, written to the store, so every worker of the cluster
 * holds (or releases) the destination's deliveries within about a second.
 */
export async function destination(env: Env, args: string[]): Promise<number> {
  const [action, id, ...extra] = args;
  if ((action !== 'pause' && action !== 'resume') || !id || extra.length > 0) {
    throw new UsageError('destination needs pause|resume and a destination id');
  }
  // A typo must not pause nothing silently: the id has to be one of the config's destinations.
  const { config } = loadConfig(env);
  if (!config.destinations.some((d) => d.id === id)) {
    throw new UsageError(`unknown destination "${id}" (not in ${env.LEADGATE_CONFIG ?? 'the config'})`);
  }
  const paused = action === 'pause';
  return withBackends(env, async (store) => {
    await store.setDestinationPaused(id, paused, 'cli');
    console.log(`${id}: ${paused ? 'paused' : 'resumed'}`);
    return 0;
  });
}
