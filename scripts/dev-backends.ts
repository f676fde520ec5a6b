import { startDynamoDbLocal } from '../test/helpers/dynamodb-local.js';
import { startFauxqsServer } from '../test/helpers/fauxqs.js';
import { startRedisServer } from '../test/helpers/redis-server.js';

/**
 * `npm run dev:backends`: the production backends on this machine, for trying the distributed
 * set-up by hand: a redis-server of its own (AOF on), DynamoDB (Amazon's DynamoDB Local, on
 * Java) and SQS (fauxqs). Prints the environment to export, then runs until Ctrl-C; the data
 * goes with them.
 */
const redis = await startRedisServer();
const dynamodb = await startDynamoDbLocal();
const fauxqs = await startFauxqsServer();
const queueUrl = fauxqs.createQueue('leadgate-deliveries');

const common = {
  LEADGATE_STORE: 'dynamodb',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
};
const show = (vars: Record<string, string>) =>
  Object.entries(vars)
    .map(([k, v]) => `export ${k}=${v}`)
    .join('\n');

console.log(`# DynamoDB + BullMQ (Redis):
${show({ ...common, LEADGATE_QUEUE: 'bullmq', REDIS_URL: redis.url })}

# or DynamoDB + SQS:
${show({ ...common, LEADGATE_QUEUE: 'sqs', SQS_QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: fauxqs.endpoint })}

# then: npx leadgate migrate, and start apis and workers (see README). Ctrl-C stops the backends.`);

const stop = async () => {
  await redis.close();
  await fauxqs.stop();
  await dynamodb.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
