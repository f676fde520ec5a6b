import { describe, expect, it } from 'vitest';
import { startFakeCrm } from '../helpers/crm-server.js';
import { API_KEY, e2eConfig } from '../helpers/e2e-config.js';
import { postLead, runConcurrently } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/**
 * `leadgate serve` hands each new delivery from the ingest straight to its worker, leased in the
 * ingest's transaction (src/adapters/sqlite/handoff.ts). kill -9 while those requests are in
 * flight must lose nothing: the leases expire and the restarted process delivers every lead,
 * under the same webhook-id.
 */

const cleanups = cleanupAfterEach();

async function start(env: Record<string, string>): Promise<LeadgateProcess> {
  const leadgate = await startLeadgate('serve', env);
  cleanups.push(async () => {
    if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGKILL');
    await leadgate.exited;
  });
  return leadgate;
}

describe('hand-off and kill -9', () => {
  it('kill -9 with 300 handed-off deliveries in flight or waiting: all delivered after restart, webhook-id unchanged', async () => {
    let slow = true;
    const idsByLead = new Map<string, Set<string>>();
    const delivered = new Set<string>();
    const crm = await startFakeCrm({
      responder: (req) => {
        const leadId = (JSON.parse(req.body) as { data: { id: string } }).data.id;
        const ids = idsByLead.get(leadId) ?? new Set<string>();
        ids.add(String(req.headers['webhook-id']));
        idsByLead.set(leadId, ids);
        // Phase one: the CRM sits on every request, so they are in flight when the process dies.
        if (slow) return { status: 200, delayMs: 60_000 };
        delivered.add(leadId);
        return { status: 200 };
      },
    });
    cleanups.push(() => crm.close());
    const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['1s', '1s'] }]).replace('timeout_ms: 2000', 'timeout_ms: 60000'));
    cleanups.push(() => workspace.cleanup());
    const env = {
      LEADGATE_CONFIG: workspace.configPath,
      LEADGATE_DATA_DIR: workspace.dataDir,
      LEADGATE_WORKER_CONCURRENCY: '512',
      LEADGATE_JOB_LEASE_MS: '2000',
    };
    const first = await start(env);
    const results = await runConcurrently(300, 25, () => postLead(first.url, API_KEY));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const ids = results.map((r) => r.body.id as string);
    // 64 in flight (the destination client's connections per CRM), the rest handed off and waiting behind them.
    await crm.waitForRequests(64, { timeoutMs: 30_000 });

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(delivered.size).toBe(0);

    slow = false;
    await start(env);
    await waitFor(() => delivered.size === 300, { what: 'all 300 leads delivered', timeoutMs: 60_000 });
    expect(new Set(delivered)).toEqual(new Set(ids));
    // At least once, and always under the delivery's one id.
    for (const id of ids) expect(idsByLead.get(id)?.size).toBe(1);
  });
});
