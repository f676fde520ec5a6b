import { describe, expect, it } from 'vitest';
import { rehearseRollingRestart } from '../helpers/rolling-restart.js';

describe('rolling restart behind haproxy (3 apis, 2 workers, Redis + DynamoDB)', () => {
  it('fails no request at the client and loses no lead', async () => {
    const figures = await rehearseRollingRestart({ clients: 6, maxRequests: 20_000 });
    console.log(`[rolling restart] ${JSON.stringify(figures)}`);
    expect(figures.exitCodes).toEqual([0, 0, 0, 0, 0]);
    expect(figures.failures).toEqual({});
    expect(figures.delivered).toBe(figures.accepted);
    expect(figures.accepted).toBe(figures.sent);
  }, 240_000);
});
