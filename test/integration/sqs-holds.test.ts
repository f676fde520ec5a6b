import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpDestinationClient } from '../../src/adapters/http/destination-client.js';
import { MemoryDestinationLimits } from '../../src/adapters/memory/destination-limits.js';
import { openSqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import { SqsJobQueue } from '../../src/adapters/sqs/job-queue.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { CircuitBreakers } from '../../src/worker/circuit-breakers.js';
import { createDeliveryGate } from '../../src/worker/delivery-gate.js';
import { createDeliveryHandler } from '../../src/worker/delivery-handler.js';
import { makeIngest } from '../contract/fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { config as makeConfig, destination } from '../helpers/config-factories.js';
import { startFakeCrm } from '../helpers/crm-server.js';
import { startFauxqsServer, type Fauxqs } from '../helpers/fauxqs.js';

/**
 * On SQS a held delivery used to keep its message (made invisible until the hold ended), so every
 * look at a paused destination counted as a receive and took it towards the DLQ. Here the DLQ
 * takes a message at its 5th receive, and a paused destination is looked at every ~1 s (SQS's
 * smallest delay; pausedRecheckMs is 200 ms), so each delivery is held 8 times and more, which
 * the old behaviour would have sent to the DLQ at the 5th look.
 */

let sqs: Fauxqs;
beforeAll(async () => {
  sqs = await startFauxqsServer();
});
afterAll(async () => {
  await sqs.stop();
});

describe('sqs: holding a paused destination', () => {
  it('never sends a held delivery to the DLQ (maxReceiveCount 5, 8+ holds each), and delivers all after resume', async () => {
    const crm = await startFakeCrm();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadgate-sqs-holds-'));
    const store = new SqliteLeadStore(openSqliteDatabase(dir));
    await store.migrate();
    const name = `holds-${randomUUID()}`;
    const probe = sqs.createQueue();
    const queueUrl = probe.replace(/[^/]+$/, name);
    const queue = new SqsJobQueue({ client: sqs.client(), queueUrl, visibilityTimeoutSec: 5, waitTimeSeconds: 1, dlq: { maxReceiveCount: 5 } });
    await queue.migrate();
    const metrics = createMetrics();
    const logger = pino(loggerOptions('silent'));
    const dest = destination({ id: 'crm', url: crm.url });
    const gate = createDeliveryGate({
      store,
      breakers: new CircuitBreakers({ metrics, logger }),
      limits: new MemoryDestinationLimits(),
      metrics,
      pausedCacheMs: 50,
      pausedRecheckMs: 200,
    });
    const client = new HttpDestinationClient();
    const handler = createDeliveryHandler({ config: makeConfig({ destinations: [dest] }), store, client, metrics, logger, gate });
    const holds = new Map<string, number>();
    try {
      await store.setDestinationPaused('crm', true);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const command = makeIngest(['crm']);
        await store.ingest(command);
        ids.push(command.deliveries[0]!.id);
      }
      queue.consume(
        async (job) => {
          const outcome = await handler(job);
          if (outcome) holds.set(job.deliveryId, (holds.get(job.deliveryId) ?? 0) + 1);
          return outcome;
        },
        { concurrency: 8 },
      );
      await queue.enqueue(ids.map((deliveryId) => ({ deliveryId, runAt: Date.now() })));
      await waitFor(() => ids.every((id) => (holds.get(id) ?? 0) >= 8), { timeoutMs: 60_000 });
      const dlq = () => sqs.server.inspectQueue(`${name}-dlq`)!.messages;
      const inDlq = () => dlq().ready.length + dlq().delayed.length + dlq().inflight.length;
      expect(inDlq()).toBe(0);
      expect(crm.requests).toHaveLength(0);

      await store.setDestinationPaused('crm', false);
      await crm.waitForRequests(5, { timeoutMs: 30_000 });
      for (const id of ids) {
        await waitFor(() => crm.countById(id) >= 1, { timeoutMs: 30_000 });
        expect(crm.countById(id)).toBe(1);
      }
      await queue.stop();
      for (const id of ids) expect(await store.getDelivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
      expect(inDlq()).toBe(0);
      console.log(`[measure] sqs holds, maxReceiveCount 5: holds per delivery ${JSON.stringify([...holds.values()])}, DLQ 0`);
    } finally {
      await queue.close();
      await client.close();
      await store.close();
      await crm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
