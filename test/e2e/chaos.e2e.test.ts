import { describe, expect, it } from 'vitest';
import { deliveryLedger, startCluster, type Cluster } from '../helpers/cluster.js';
import { startFakeCrm, type CrmResponse } from '../helpers/crm-server.js';
import { API_KEY, e2eConfig } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postLead, runConcurrently, type PostResult } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/**
 * Chaos on the distributed set-up. Each test counts the leads that got a 202 and the leads the
 * CRM received: none of the first may be missing from the second.
 */

const cleanups = cleanupAfterEach();

// Short lease and sweep so that what a crash leaves behind comes back within seconds.
const FAST = { LEADGATE_JOB_LEASE_MS: '2000', LEADGATE_SWEEP_INTERVAL_MS: '500', LEADGATE_SWEEP_GRACE_MS: '2000' };

async function setUp(queue: 'bullmq' | 'sqs', respond: () => CrmResponse = () => ({ status: 200 })) {
  const ledger = deliveryLedger();
  const crm = await startFakeCrm({
    responder: (req) => {
      const response = respond();
      if ((response.status ?? 200) === 200 && !response.hang) ledger.record(req.body, req.headers['webhook-id'] as string);
      return response;
    },
  });
  cleanups.push(() => crm.close());
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['200ms', '500ms', '1s', '1s', '2s', '2s'] }]));
  cleanups.push(() => workspace.cleanup());
  const cluster: Cluster = await startCluster(queue, { LEADGATE_CONFIG: workspace.configPath, ...FAST });
  cleanups.push(() => cluster.close());
  return { ledger, crm, cluster };
}

const acceptedIds = (results: (PostResult | null)[]) =>
  results.filter((r): r is PostResult => r !== null && r.status === 202).map((r) => r.body.id as string);

/** Posts, turning a connection error (a killed api) into null instead of a failure. */
const tryPost = (url: string) => postLead(url, API_KEY, EXAMPLE_LEAD).catch(() => null);

function report(name: string, accepted: string[], ledger: ReturnType<typeof deliveryLedger>) {
  console.log(`[chaos ${name}] accepted ${accepted.length}, delivered ${accepted.length - ledger.missing(accepted).length}, duplicate webhook-ids ${ledger.duplicates()}`);
}

describe('chaos on DynamoDB + BullMQ', () => {
  it('kill -9 of a worker mid-delivery: every accepted lead is delivered', async () => {
    const { ledger, crm, cluster } = await setUp('bullmq', () => ({ status: 200, delayMs: 100 }));
    const api = await cluster.start('api');
    const doomed = await cluster.start('worker', { LEADGATE_WORKER_CONCURRENCY: '8' });
    await cluster.start('worker', { LEADGATE_WORKER_CONCURRENCY: '8' });

    const accepted = acceptedIds(await runConcurrently(300, 20, () => tryPost(api.url)));
    expect(accepted).toHaveLength(300);
    await crm.waitForRequests(30, { timeoutMs: 30_000 });
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');

    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 90_000 });
    report('worker kill -9', accepted, ledger);
  });

  it('kill -9 of an api mid-request: every lead that got a 202 is delivered', async () => {
    const { ledger, cluster } = await setUp('bullmq');
    const doomed = await cluster.start('api');
    const survivor = await cluster.start('api');
    await cluster.start('worker');

    let answered = 0;
    const results = await runConcurrently(400, 40, async () => {
      const result = await tryPost(doomed.url);
      if (++answered === 100) doomed.child.kill('SIGKILL');
      return result;
    });
    expect(await doomed.exited).toBe('SIGKILL');
    const accepted = [...acceptedIds(results), ...acceptedIds(await runConcurrently(50, 10, () => tryPost(survivor.url)))];
    expect(accepted.length).toBeGreaterThanOrEqual(150);

    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 90_000 });
    report('api kill -9', accepted, ledger);
  });

  it('restart of redis-server (AOF) under load: 503 while it is down, nothing accepted is lost', async () => {
    const { ledger, cluster } = await setUp('bullmq');
    const api = await cluster.start('api');
    await cluster.start('worker');
    const redis = cluster.redis!;

    let sent = 0;
    let chaos: Promise<void> | null = null;
    const results = await runConcurrently(900, 10, async () => {
      sent++;
      if (sent === 200) chaos = redis.kill();
      if (sent === 500) chaos = chaos!.then(() => redis.restart());
      return tryPost(api.url);
    });
    await chaos;
    const statuses = new Map<string, number>();
    for (const r of results) statuses.set(String(r?.status ?? 'error'), (statuses.get(String(r?.status ?? 'error')) ?? 0) + 1);
    expect([...statuses.keys()].every((s) => s === '202' || s === '503'), JSON.stringify(Object.fromEntries(statuses))).toBe(true);

    // It recovers by itself: new leads are accepted again once Redis is back.
    await waitFor(async () => (await tryPost(api.url))?.status === 202, { what: 'ingest to recover', timeoutMs: 30_000 });
    const accepted = acceptedIds(results);
    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 90_000 });
    console.log(`[chaos redis restart] answers ${JSON.stringify(Object.fromEntries(statuses))}`);
    report('redis restart', accepted, ledger);
  });

  it('DynamoDB killed, then restarted with its data: 503 with Retry-After and readiness 503, then recovery', async () => {
    const { ledger, cluster } = await setUp('bullmq');
    const api = await cluster.start('api');
    await cluster.start('worker');
    const before = acceptedIds(await runConcurrently(50, 10, () => tryPost(api.url)));
    expect(before).toHaveLength(50);

    await cluster.dynamodb.kill();
    const refused = await postLead(api.url, API_KEY, EXAMPLE_LEAD);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('unavailable');
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect((await getJson(`${api.url}/health/ready`)).status).toBe(503);

    await cluster.dynamodb.restart();
    await waitFor(async () => (await getJson(`${api.url}/health/ready`)).status === 200, { what: 'readiness to recover', timeoutMs: 30_000 });
    const after = acceptedIds(await runConcurrently(50, 10, () => tryPost(api.url)));
    expect(after).toHaveLength(50);
    const accepted = [...before, ...after];
    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 90_000 });
    report('dynamodb outage', accepted, ledger);
  });
});

describe('chaos on DynamoDB + SQS', () => {
  it("a message whose worker died reappears after its visibility timeout and is delivered", async () => {
    let hold = true;
    // While `hold`, the CRM never answers: the first worker dies with its deliveries in flight.
    const { ledger, crm, cluster } = await setUp('sqs', () => (hold ? { hang: true } : { status: 200 }));
    const api = await cluster.start('api');
    const doomed = await cluster.start('worker');

    const accepted = acceptedIds(await runConcurrently(20, 10, () => tryPost(api.url)));
    expect(accepted).toHaveLength(20);
    await crm.waitForRequests(5, { timeoutMs: 30_000 });
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    hold = false;

    await cluster.start('worker');
    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 90_000 });
    report('sqs worker died', accepted, ledger);
  });
});
