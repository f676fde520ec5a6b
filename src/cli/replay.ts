import { parseArgs } from 'node:util';
import type { Env } from '../config/env.js';
import { withBackends } from '../container.js';
import type { ReplaySelector } from '../ports/lead-store.js';
import { UsageError } from './usage-error.js';

/** `leadgate replay --delivery <id>` or `--destination <id> [--status dead] [--since] [--until]`. */
export async function replay(env: Env, args: string[]): Promise<number> {
  const selector = parseReplayArgs(args);
  return withBackends(env, async (store, queue) => {
    const replayed = await store.replay(selector);
    const now = Date.now();
    await queue.enqueue(replayed.map((d) => ({ deliveryId: d.id, runAt: now })));
    console.log(`replayed ${replayed.length} deliveries`);
    for (const d of replayed) console.log(`  ${d.id} ${d.destination} (attempts so far: ${d.attempts})`);
    return 0;
  });
}

function parseReplayArgs(args: string[]): ReplaySelector {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        delivery: { type: 'string' },
        destination: { type: 'string' },
        status: { type: 'string', default: 'dead' },
        since: { type: 'string' },
        until: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.delivery) return { deliveryId: values.delivery };
  if (!values.destination) throw new UsageError('replay needs --delivery <id> or --destination <id>');
  if (values.status !== 'dead') throw new UsageError('--status: only "dead" deliveries can be replayed in bulk');
  return { destination: values.destination, status: 'dead', since: isoOption('since', values.since), until: isoOption('until', values.until) };
}

function isoOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${name}: not an ISO 8601 date`);
  return ms;
}
