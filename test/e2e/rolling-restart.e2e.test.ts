import { describe, expect, it } from 'vitest';
import { rehearseRollingRestart } from '../helpers/rolling-restart.js';

// One rehearsal per production queue, one after the other (never two clusters at once on 2 cores).
describe.each(['bullmq', 'sqs'] as const)('rolling restart behind haproxy (3 apis, 2 workers, %s + DynamoDB)', (queue) => {
  it('fails no request at the client and loses no lead', async () => {
    const figures = await rehearseRollingRestart({ queue, clients: 6, maxRequests: 20_000 });
    console.log(`[rolling restart ${queue}] ${JSON.stringify(figures)}`);
    expect(figures.exitCodes).toEqual([0, 0, 0, 0, 0]);
    expect(figures.failures).toEqual({});
    expect(figures.accepted).toBeGreaterThan(0);
    expect(figures.delivered).toBe(figures.accepted);
    expect(figures.accepted).toBe(figures.sent);
  }, 240_000);
});
