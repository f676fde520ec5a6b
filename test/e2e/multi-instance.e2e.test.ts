import { describe, expect, it } from 'vitest';
import { startCluster, deliveryLedger, type Cluster } from '../helpers/cluster.js';
import { closedPort, startFakeCrm } from '../helpers/crm-server.js';
import { API_KEY, e2eConfig } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postLead, runConcurrently } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** Several stateless apis and workers sharing DynamoDB and a queue, as on Elastic Beanstalk. */

const cleanups = cleanupAfterEach();

async function setUp(queue: 'bullmq' | 'sqs') {
  const ledger = deliveryLedger();
  const crm = await startFakeCrm({
    responder: (req) => {
      ledger.record(req.body, req.headers['webhook-id'] as string | undefined);
      return { status: 200 };
    },
  });
  cleanups.push(() => crm.close());
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['200ms', '500ms', '1s', '1s'] }]));
  cleanups.push(() => workspace.cleanup());
  const cluster: Cluster = await startCluster(queue, { LEADGATE_CONFIG: workspace.configPath, LEADGATE_JOB_LEASE_MS: '3000' });
  cleanups.push(() => cluster.close());
  return { ledger, crm, cluster };
}

describe.each(['bullmq', 'sqs'] as const)('many instances on DynamoDB + %s', (queue) => {
  it('2 apis + 2 workers: 2,000 leads posted across both apis are all delivered', async () => {
    const { ledger, cluster } = await setUp(queue);
    const apis = [await cluster.start('api'), await cluster.start('api')];
    await cluster.start('worker');
    // A worker has no api; its own listener exposes its delivery metrics to Prometheus.
    const metricsPort = await closedPort();
    await cluster.start('worker', { LEADGATE_WORKER_METRICS_PORT: String(metricsPort) });

    const results = await runConcurrently(2000, 20, (i) => postLead(apis[i % 2]!.url, API_KEY, EXAMPLE_LEAD));
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 202: 2000 });
    const ids = results.map((r) => r.body.id as string);

    await waitFor(() => ledger.missing(ids).length === 0, { what: 'every lead delivered', timeoutMs: 120_000 });
    console.log(`[multi-instance ${queue}] accepted 2000, delivered ${ledger.byLead.size}, duplicate webhook-ids at the CRM: ${ledger.duplicates()}`);
    expect(ledger.missing(ids)).toEqual([]);

    const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(workerMetrics).toMatch(/^leadgate_deliveries_total\{destination="crm-main",outcome="delivered"\} [1-9]/m);
    expect(workerMetrics).toMatch(new RegExp(`^leadgate_queue_depth\\{backend="${queue}"\\} \\d+`, 'm'));
    expect((await getJson(`http://127.0.0.1:${metricsPort}/health/ready`)).status).toBe(200);

    for (const api of apis) {
      const ready = await getJson(`${api.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toMatchObject({ store: 'ok', queue: 'ok' });
    }

    // Two apis racing one Idempotency-Key (a browser retrying through the load balancer)
    // create one lead: the other answer is a replay of it, or 409 while the first is in flight.
    for (let round = 0; round < 5; round++) {
      const key = `race-${queue}-${round}`;
      const answers = await Promise.all(apis.map((api) => postLead(api.url, API_KEY, EXAMPLE_LEAD, { 'idempotency-key': key })));
      const created = answers.filter((a) => a.status === 202 && a.headers.get('idempotent-replayed') === null);
      expect(created, JSON.stringify(answers.map((a) => a.status))).toHaveLength(1);
      for (const other of answers.filter((a) => a !== created[0])) {
        if (other.status === 202) expect(other.body.id).toBe(created[0]!.body.id);
        else expect(other.status).toBe(409);
      }
      const replay = await postLead(apis[(round + 1) % 2]!.url, API_KEY, EXAMPLE_LEAD, { 'idempotency-key': key });
      expect(replay.status).toBe(202);
      expect(replay.body.id).toBe(created[0]!.body.id);
    }
  }, 240_000);
});
