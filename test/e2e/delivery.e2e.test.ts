import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, API_KEY, SIGNING_SECRET, e2eConfig } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postJson, postLead, runConcurrently } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, runCli, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** End to end on the embedded default: `leadgate serve` as a child process, CRMs on loopback. */

const cleanups = cleanupAfterEach();

async function setUp(crms: { crm: FakeCrm; id: string; services?: string[]; delays?: string[] }[]) {
  const workspace = makeWorkspace(e2eConfig(crms.map((c) => ({ id: c.id, url: c.crm.url, services: c.services, delays: c.delays }))));
  cleanups.push(() => workspace.cleanup());
  const env = { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir, LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN };
  const leadgate = await startLeadgate('serve', env);
  cleanups.push(() => stop(leadgate));
  return { leadgate, env };
}

async function stop(leadgate: LeadgateProcess) {
  if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGTERM');
  await leadgate.exited;
}

async function crm(): Promise<FakeCrm> {
  const server = await startFakeCrm();
  cleanups.push(() => server.close());
  return server;
}

async function deliveryOf(baseUrl: string, leadId: string) {
  const { body } = await getJson(`${baseUrl}/v1/leads/${leadId}`, ADMIN_TOKEN);
  return body.deliveries[0];
}

describe('embedded end to end', () => {
  it('delivers 500 leads to every routed destination, each webhook-id once, signed', async () => {
    const main = await crm();
    const callCentre = await crm();
    const { leadgate } = await setUp([
      { crm: main, id: 'crm-main' },
      { crm: callCentre, id: 'call-centre', services: ['menage'] },
    ]);

    const results = await runConcurrently(500, 25, (i) =>
      postLead(leadgate.url, API_KEY, { ...EXAMPLE_LEAD, service: i % 2 === 0 ? 'menage' : 'jardinage' }),
    );
    expect(results.map((r) => r.status)).toEqual(new Array(500).fill(202));
    const ids = results.map((r) => r.body.id as string);
    expect(new Set(ids).size).toBe(500);

    await main.waitForRequests(500, { timeoutMs: 30_000 });
    await callCentre.waitForRequests(250, { timeoutMs: 30_000 });

    const mainIds = main.bodies<{ data: { id: string } }>().map((b) => b.data.id);
    expect(new Set(mainIds)).toEqual(new Set(ids));
    const menageIds = ids.filter((_, i) => i % 2 === 0);
    expect(new Set(callCentre.bodies<{ data: { id: string } }>().map((b) => b.data.id))).toEqual(new Set(menageIds));

    const webhook = new Webhook(SIGNING_SECRET);
    for (const server of [main, callCentre]) {
      const webhookIds = server.requests.map((r) => r.headers['webhook-id'] as string);
      expect(new Set(webhookIds).size).toBe(webhookIds.length); // each seen once
      for (const req of server.requests.slice(0, 20)) {
        expect(() => webhook.verify(req.body, req.headers as Record<string, string>)).not.toThrow();
      }
    }

    const body = main.bodies<any>()[0];
    expect(body.type).toBe('lead.created');
    expect(body.data.brand).toBe('merciplus');
    expect(body.data.contact).toMatchObject({ email: 'camille.martin@example.fr', phone: '+33612345678' });
    // The api and worker stay healthy after the run.
    expect((await getJson(`${leadgate.url}/health/ready`)).status).toBe(200);
    // serve runs its worker on a thread: one /metrics holds the api thread's figures (requests,
    // process) and the worker thread's (deliveries), each once.
    const metrics = await (await fetch(`${leadgate.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^leadgate_leads_accepted_total\{brand="merciplus"\} 500$/m);
    expect(metrics).toMatch(/^leadgate_deliveries_total\{destination="crm-main",outcome="delivered"\} 500$/m);
    expect(metrics).toMatch(/^leadgate_deliveries_total\{destination="call-centre",outcome="delivered"\} 250$/m);
    expect(metrics).toMatch(/^process_start_time_seconds \d+/m);
    expect(metrics.match(/^# TYPE leadgate_deliveries_total /gm)).toHaveLength(1);
    // One line per accepted lead, and no personal data in any line.
    expect(leadgate.logs.filter((l) => l.msg === 'lead accepted')).toHaveLength(500);
    const logText = JSON.stringify(leadgate.logs).toLowerCase();
    for (const personal of ['camille', 'martin', '612345678', 'ménage par semaine', API_KEY]) {
      expect(logText).not.toContain(personal.toLowerCase());
    }
  });

  it('retries a CRM that answers 503, then shows every attempt', async () => {
    const main = await crm();
    main.queueResponses({ status: 503 }, { status: 503, headers: { 'retry-after': '0' } });
    const { leadgate } = await setUp([{ crm: main, id: 'crm-main' }]);

    const { body } = await postLead(leadgate.url, API_KEY);
    await main.waitForRequests(3);
    await waitFor(async () => (await deliveryOf(leadgate.opsUrl, body.id as string)).status === 'delivered', { what: 'delivered' });

    const delivery = await deliveryOf(leadgate.opsUrl, body.id as string);
    expect(delivery).toMatchObject({ destination: 'crm-main', status: 'delivered', attempts: 3, last_status_code: 200 });
    expect(delivery.history.map((a: { status_code: number }) => a.status_code)).toEqual([503, 503, 200]);
    expect(new Set(main.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery.id]));
  });

  it('dead-letters on a 400 at once, and a replay delivers it with the same id', async () => {
    const main = await crm();
    main.respondWith({ status: 400, body: '{"error":"bad field"}' });
    const { leadgate, env } = await setUp([{ crm: main, id: 'crm-main' }]);

    const first = await postLead(leadgate.url, API_KEY);
    const second = await postLead(leadgate.url, API_KEY, { ...EXAMPLE_LEAD, service: 'jardinage' });
    await main.waitForRequests(2);
    for (const lead of [first, second]) {
      await waitFor(async () => (await deliveryOf(leadgate.opsUrl, lead.body.id as string)).status === 'dead', { what: 'dead' });
    }
    const dead = await deliveryOf(leadgate.opsUrl, first.body.id as string);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 400, next_attempt_at: null });

    const list = await getJson(`${leadgate.opsUrl}/v1/deliveries?status=dead&destination=crm-main`, ADMIN_TOKEN);
    expect(list.body.items).toHaveLength(2);

    // The CRM is fixed: replay one through the admin API, the other through the CLI.
    main.respondWith({ status: 200 });
    const replay = await postJson(`${leadgate.opsUrl}/v1/deliveries/${dead.id}/replay`, {}, ADMIN_TOKEN);
    expect(replay.status).toBe(202);
    const cli = await runCli(['replay', '--destination', 'crm-main', '--status', 'dead'], env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/replayed [12] deliveries/);

    await main.waitForRequests(4);
    for (const lead of [first, second]) {
      await waitFor(async () => (await deliveryOf(leadgate.opsUrl, lead.body.id as string)).status === 'delivered', { what: 'delivered' });
    }
    expect(main.countById(dead.id)).toBe(2); // the same webhook-id, so a CRM can drop duplicates

    const shown = await runCli(['lead', 'show', first.body.id as string], env);
    expect(shown.code).toBe(0);
    const lead = JSON.parse(shown.stdout);
    expect(lead.deliveries[0].history.map((a: { status_code: number }) => a.status_code)).toEqual([400, 200]);
  });
});
