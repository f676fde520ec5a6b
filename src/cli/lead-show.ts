import type { Env } from '../config/env.js';
import { withBackends } from './with-backends.js';

/** `leadgate lead show <id>`: the lead, its deliveries and every attempt, as JSON. */
export async function leadShow(env: Env, id: string): Promise<number> {
  return withBackends(env, async (store) => {
    const lead = await store.getLead(id);
    if (!lead) {
      console.error(`leadgate: lead ${id} not found`);
      return 1;
    }
    const deliveries = await Promise.all(
      (await store.listDeliveriesOfLead(id)).map(async (d) => ({ ...d, history: await store.listAttempts(d.id) })),
    );
    console.log(JSON.stringify({ ...lead, deliveries }, null, 2));
    return 0;
  });
}
