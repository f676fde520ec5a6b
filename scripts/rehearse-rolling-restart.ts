import { rehearseRollingRestart } from '../test/helpers/rolling-restart.js';

/**
 * `npm run rehearse`: the load-balancer rehearsal of a rolling deployment on this machine
 * (haproxy over 3 apis and 2 workers on Redis + DynamoDB), printing its figures.
 */
const figures = await rehearseRollingRestart({ clients: Number(process.env.CLIENTS ?? 10) });
console.log(JSON.stringify(figures, null, 2));
process.exitCode = figures.failed === 0 && figures.delivered === figures.accepted ? 0 : 1;
