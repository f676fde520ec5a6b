import { describe, expect, it } from 'vitest';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { API_KEY, e2eConfig } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, postLead, runConcurrently } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** 2xx means durable: nothing accepted is lost across kill -9 and SIGTERM. */

const cleanups = cleanupAfterEach();

/** A CRM that can be "down" (503) and records which leads it accepted with a 200. */
async function switchableCrm() {
  const delivered = new Map<string, number>();
  let down = false;
  const crm: FakeCrm = await startFakeCrm({
    responder: (req) => {
      if (down) return { status: 503 };
      const id = (JSON.parse(req.body) as { data: { id: string } }).data.id;
      delivered.set(id, (delivered.get(id) ?? 0) + 1);
      return { status: 200 };
    },
  });
  cleanups.push(() => crm.close());
  return { crm, delivered, setDown: (value: boolean) => (down = value) };
}

function workspaceFor(crm: FakeCrm, delays: string[]) {
  // A short breaker: deliveries it holds stay leased until it would probe, even across a restart.
  const extra = ['circuit_breaker: { failures: 5, half_open_after: 1s }'];
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays, extra }]));
  cleanups.push(() => workspace.cleanup());
  return { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir };
}

async function start(env: Record<string, string>): Promise<LeadgateProcess> {
  const leadgate = await startLeadgate('serve', env);
  cleanups.push(async () => {
    if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGKILL');
    await leadgate.exited;
  });
  return leadgate;
}

describe('crash safety', () => {
  it('kill -9 with 1,000 undelivered leads: all delivered after restart', async () => {
    const { crm, delivered, setDown } = await switchableCrm();
    setDown(true);
    const env = workspaceFor(crm, new Array(30).fill('1s'));
    const first = await start(env);

    const results = await runConcurrently(1000, 25, () => postLead(first.url, API_KEY));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const ids = results.map((r) => r.body.id as string);
    // The worker has met the down CRM (its circuit breaker, 5 failures by default, then holds
    // the rest: held deliveries are leased too, so the kill still leaves claims behind).
    await crm.waitForRequests(5);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(delivered.size).toBe(0);

    setDown(false);
    await start(env);
    await waitFor(() => delivered.size === 1000, { what: 'all 1,000 leads delivered', timeoutMs: 60_000 });
    expect(new Set(delivered.keys())).toEqual(new Set(ids));
  });

  it('SIGTERM under load: exit 0, and every lead that got a 202 is delivered after restart', async () => {
    const { crm, delivered } = await switchableCrm();
    const env = { ...workspaceFor(crm, ['100ms', '200ms']), SHUTDOWN_TIMEOUT_MS: '10000' };
    const first = await start(env);

    const accepted: string[] = [];
    let failed = 0;
    let sent = 0;
    let terminated = false;
    // 20 clients post leads back to back until the server stops answering; SIGTERM after 300.
    await runConcurrently(20, 20, async () => {
      for (;;) {
        if (sent === 300 && !terminated) {
          terminated = true;
          first.child.kill('SIGTERM');
        }
        sent++;
        try {
          const res = await postLead(first.url, API_KEY, EXAMPLE_LEAD);
          if (res.status === 202) accepted.push(res.body.id as string);
          else failed++;
        } catch {
          failed++; // connection refused or reset once the listener closed: the client retries elsewhere
        }
        if (first.child.exitCode !== null || (terminated && failed > 0)) return;
        if (sent > 5000) return; // bound the loop whatever happens
      }
    });
    expect(terminated).toBe(true);
    expect(await first.exited).toBe(0);
    expect(accepted.length).toBeGreaterThanOrEqual(280);

    await start(env);
    await waitFor(() => accepted.every((id) => delivered.has(id)), { what: 'every accepted lead delivered', timeoutMs: 60_000 });
  });
});
