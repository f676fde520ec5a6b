import { describe, expect, it } from 'vitest';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, API_KEY, e2eConfig, type E2eDestination } from '../helpers/e2e-config.js';
import { getJson, postJson, postLead } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, runCli, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** Protecting CRMs end to end: the built `leadgate serve`, pause/resume (CLI and admin API), the circuit breaker. */

const cleanups = cleanupAfterEach();

async function crm(): Promise<FakeCrm> {
  const server = await startFakeCrm();
  cleanups.push(() => server.close());
  return server;
}

async function serve(destinations: E2eDestination[], extraEnv: Record<string, string> = {}) {
  const workspace = makeWorkspace(e2eConfig(destinations));
  cleanups.push(() => workspace.cleanup());
  const env = {
    LEADGATE_CONFIG: workspace.configPath,
    LEADGATE_DATA_DIR: workspace.dataDir,
    LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    ...extraEnv,
  };
  const leadgate = await startLeadgate('serve', env);
  cleanups.push(async () => {
    if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGTERM');
    await leadgate.exited;
  });
  return { leadgate, env };
}

/** One sample of a metric from /metrics, or 0 when absent. */
async function metric(leadgate: LeadgateProcess, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${leadgate.opsUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function deliveries(leadgate: LeadgateProcess, leadIds: string[]) {
  return Promise.all(leadIds.map(async (id) => (await getJson(`${leadgate.opsUrl}/v1/leads/${id}`, ADMIN_TOKEN)).body.deliveries[0]));
}

describe('protecting CRMs, end to end', () => {
  it('pause (CLI) holds deliveries without attempts; resume (admin API) delivers them all', async () => {
    const main = await crm();
    const { leadgate, env } = await serve([{ id: 'crm-main', url: main.url }]);

    const paused = await runCli(['destination', 'pause', 'crm-main'], env);
    expect(paused).toMatchObject({ code: 0, stdout: 'crm-main: paused\n' });
    expect((await runCli(['destination', 'pause', 'no-such-crm'], env)).code).toBe(64);

    const leadIds: string[] = [];
    for (let i = 0; i < 5; i++) leadIds.push((await postLead(leadgate.url, API_KEY)).body.id as string);
    // Each delivery has been looked at and held (a metric, since nothing reaches the CRM).
    await waitFor(
      async () => (await metric(leadgate, 'leadgate_deliveries_held_total', { destination: 'crm-main', reason: 'paused' })) >= 5,
      { what: 'paused deliveries held' },
    );
    expect(main.requests).toHaveLength(0);
    for (const d of await deliveries(leadgate, leadIds)) expect(d).toMatchObject({ status: 'pending', attempts: 0 });
    const list = await getJson(`${leadgate.opsUrl}/v1/destinations`, ADMIN_TOKEN);
    expect(list.body.items).toEqual([
      expect.objectContaining({ id: 'crm-main', paused: true, circuit_breaker: 'closed', pending: 5, dead: 0 }),
    ]);

    const resumed = await postJson(`${leadgate.opsUrl}/v1/destinations/crm-main/resume`, {}, ADMIN_TOKEN);
    expect(resumed).toEqual({ status: 200, body: { destination: 'crm-main', paused: false } });
    await main.waitForRequests(5, { timeoutMs: 15_000 });
    await waitFor(async () => (await deliveries(leadgate, leadIds)).every((d) => d.status === 'delivered'), { what: 'delivered' });
    for (const d of await deliveries(leadgate, leadIds)) expect(d.attempts).toBe(1);
  });

  it('a CRM down trips the breaker (held, attempts not spent); once it is up every lead is delivered', async () => {
    const main = await crm();
    main.respondWith({ status: 503 });
    const { leadgate } = await serve(
      [
        {
          id: 'crm-main',
          url: main.url,
          delays: new Array(8).fill('100ms') as string[],
          extra: ['circuit_breaker: { failures: 2, half_open_after: 400ms }'],
        },
      ],
      { LEADGATE_WORKER_CONCURRENCY: '1' },
    );

    const leadIds: string[] = [];
    for (let i = 0; i < 10; i++) leadIds.push((await postLead(leadgate.url, API_KEY)).body.id as string);
    // Down through the 2 failures that open it and 2 failed half-open probes.
    await main.waitForRequests(4, { timeoutMs: 15_000 });
    // Open, or half-open while the last probe's answer is on its way.
    expect(await metric(leadgate, 'leadgate_circuit_breaker_state', { destination: 'crm-main' })).toBeGreaterThanOrEqual(1);
    const requestsWhileDown = main.requests.length;
    main.respondWith({ status: 200 });

    await waitFor(async () => (await deliveries(leadgate, leadIds)).every((d) => d.status === 'delivered'), { what: 'delivered' });
    const all = await deliveries(leadgate, leadIds);
    // Only the requests the CRM actually saw while down were spent as failed attempts.
    expect(all.reduce((sum, d) => sum + d.attempts - 1, 0)).toBe(requestsWhileDown);
    expect(all.filter((d) => d.attempts === 1).length).toBeGreaterThanOrEqual(10 - requestsWhileDown);
    expect(await metric(leadgate, 'leadgate_circuit_breaker_state', { destination: 'crm-main' })).toBe(0);
    expect(await metric(leadgate, 'leadgate_deliveries_held_total', { destination: 'crm-main', reason: 'circuit_open' })).toBeGreaterThan(0);

    const changes = leadgate.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('circuit breaker'));
    expect(changes[0]).toMatchObject({ level: 40, destination: 'crm-main', state: 'open' });
    expect(changes.at(-1)).toMatchObject({ level: 40, destination: 'crm-main', state: 'closed' });
  });
});
