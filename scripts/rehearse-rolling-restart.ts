import { rehearseRollingRestart, type RehearsalQueue } from '../test/helpers/rolling-restart.js';

/**
 * `npm run rehearse`: the load-balancer rehearsal of a rolling deployment on this machine
 * (haproxy over 3 apis and 2 workers on DynamoDB), on BullMQ then on SQS, printing the figures
 * of each. `QUEUE=bullmq` or `QUEUE=sqs` runs one only; `CLIENTS` sets the concurrent clients.
 */
const queues: RehearsalQueue[] = process.env.QUEUE === 'bullmq' || process.env.QUEUE === 'sqs' ? [process.env.QUEUE] : ['bullmq', 'sqs'];
let passed = true;
for (const queue of queues) {
  const figures = await rehearseRollingRestart({ queue, clients: Number(process.env.CLIENTS ?? 10) });
  console.log(JSON.stringify(figures, null, 2));
  passed &&= figures.failed === 0 && figures.delivered === figures.accepted && figures.exitCodes.every((code) => code === 0);
}
process.exitCode = passed ? 0 : 1;
