import type { Env } from '../config/env.js';
import { withBackends } from '../container.js';
import { readLeadView } from '../views/lead-views.js';

/** `leadgate lead show <id>`: the lead, its deliveries and every attempt, as GET /v1/leads/:id shows them. */
export async function leadShow(env: Env, id: string): Promise<number> {
  return withBackends(env, async (store) => {
    const view = await readLeadView(store, id);
    if (view === null) {
      console.error(`leadgate: lead ${id} not found`);
      return 1;
    }
    console.log(JSON.stringify(view, null, 2));
    return 0;
  });
}
