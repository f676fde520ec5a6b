import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteLeadStore } from '../../src/adapters/sqlite/lead-store.js';
import { leadIdentities } from '../../src/domain/fingerprint.js';
import { attemptResult, makeIngest } from '../contract/fixtures.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { startFakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, e2eConfig } from '../helpers/e2e-config.js';
import { getJson, postJson } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, runCli, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { TEST_PRIVACY_KEY, testHasher } from '../helpers/privacy.js';

/** An erasure is a durable job: kill -9 in the middle, and the restarted process finishes it, no lead half-erased. */

const cleanups = cleanupAfterEach();
const PERSON = { first_name: 'Camille', last_name: 'Quintavalle', email: 'camille.quintavalle@example.fr', phone: '+33612345678' };
const LEADS = 500;

async function seed(dataDir: string): Promise<{ ids: string[]; stranger: string }> {
  const store = new SqliteLeadStore(openSqliteDatabase(dataDir), { hasher: testHasher });
  await store.migrate();
  const commands = Array.from({ length: LEADS }, () => {
    const command = makeIngest(['crm-main'], { lead: { contact: PERSON } });
    command.identities = leadIdentities(testHasher, command.lead);
    return command;
  });
  const stranger = makeIngest(['crm-main'], { lead: { contact: { email: 'paul.durand@example.fr' } } });
  stranger.identities = leadIdentities(testHasher, stranger.lead);
  await Promise.all([...commands, stranger].map((c) => store.ingest(c)));
  // Every lead reached the CRM: each erased lead owes it a lead.erased notice.
  await Promise.all([...commands, stranger].map((c) => store.recordAttempt(attemptResult(c.deliveries[0]!.id, 1, 'delivered'))));
  await store.close();
  return { ids: commands.map((c) => c.lead.id), stranger: stranger.lead.id };
}

/** What a lead looks like in the files: whole, or erased with nothing left that points at the person. */
function states(dataDir: string, ids: string[]): Array<'whole' | 'erased' | 'half'> {
  const db = new Database(path.join(dataDir, 'leadgate.db'), { readonly: true });
  try {
    const lead = db.prepare('SELECT status, data FROM leads WHERE id = ?');
    const identities = db.prepare('SELECT COUNT(*) AS n FROM lead_identities WHERE lead_id = ?');
    const notices = db.prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE lead_id = ? AND kind = 'lead.erased'`);
    return ids.map((id) => {
      const row = lead.get(id) as { status: string; data: string };
      const n = (identities.get(id) as { n: number }).n;
      const m = (notices.get(id) as { n: number }).n;
      if (row.status === 'erased') return !row.data.includes('quintavalle') && n === 0 && m === 1 ? 'erased' : 'half';
      return row.data.includes('quintavalle') && n === 2 && m === 0 ? 'whole' : 'half';
    });
  } finally {
    db.close();
  }
}

function erasedCount(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'leadgate.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM leads WHERE status = 'erased'`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('privacy: crash safety of an erasure', () => {
  it(`kill -9 in the middle of erasing ${LEADS} leads: after restart it finishes, nothing half-erased`, async () => {
    const notices: string[] = [];
    const crm = await startFakeCrm({
      responder: (req) => {
        const body = JSON.parse(req.body) as { type: string; data: { id: string } };
        if (body.type === 'lead.erased') notices.push(body.data.id);
        return { status: 200 };
      },
    });
    cleanups.push(() => crm.close());
    const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url }]));
    cleanups.push(() => workspace.cleanup());
    const { ids, stranger } = await seed(workspace.dataDir);
    const env = {
      LEADGATE_CONFIG: workspace.configPath,
      LEADGATE_DATA_DIR: workspace.dataDir,
      LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      LEADGATE_PRIVACY_KEY: TEST_PRIVACY_KEY,
      // One lead per transaction: the erasure takes hundreds of commits, so the kill lands inside it.
      LEADGATE_ERASURE_BATCH_SIZE: '1',
    };
    const start = async (): Promise<LeadgateProcess> => {
      const p = await startLeadgate('serve', env);
      cleanups.push(async () => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await p.exited;
      });
      return p;
    };

    const first = await start();
    const accepted = await postJson(`${first.opsUrl}/v1/privacy/erasures`, { phone: '06 12 34 56 78' }, ADMIN_TOKEN);
    expect(accepted.status).toBe(202);
    const erasureId = accepted.body.id as string;
    await waitFor(() => erasedCount(workspace.dataDir) > 0, { what: 'the erasure started', timeoutMs: 30_000, intervalMs: 2 });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const atKill = states(workspace.dataDir, ids);
    expect(atKill.filter((s) => s === 'half')).toEqual([]);
    const erasedAtKill = atKill.filter((s) => s === 'erased').length;
    expect(erasedAtKill).toBeGreaterThan(0);
    expect(erasedAtKill, 'the kill landed after the end: nothing left to resume').toBeLessThan(LEADS);

    const second = await start();
    await waitFor(async () => (await getJson(`${second.opsUrl}/v1/privacy/erasures/${erasureId}`, ADMIN_TOKEN)).body.status === 'done', { what: 'the erasure finished', timeoutMs: 60_000 });
    const done = (await getJson(`${second.opsUrl}/v1/privacy/erasures/${erasureId}`, ADMIN_TOKEN)).body;
    expect(done.leads).toBe(LEADS);
    expect(states(workspace.dataDir, ids).every((s) => s === 'erased')).toBe(true);
    const strangerView = await getJson(`${second.opsUrl}/v1/leads/${stranger}`, ADMIN_TOKEN);
    expect(strangerView.body.contact.email).toBe('paul.durand@example.fr');
    // One notice per lead (none made twice by the resumed run), all delivered.
    await waitFor(() => new Set(notices).size === LEADS, { what: 'every notice delivered', timeoutMs: 60_000 });
    expect(new Set(notices)).toEqual(new Set(ids));
    await waitFor(
      async () => (await getJson(`${second.opsUrl}/v1/privacy/erasures/${erasureId}`, ADMIN_TOKEN)).body.notified[0]?.status === 'delivered',
      { what: 'the erasure shows its notices delivered' },
    );

    // The CLI export finds nothing of the person any more; the stranger is still found.
    second.child.kill('SIGTERM');
    await second.exited;
    const none = await runCli(['privacy', 'export', '--email', 'Camille.Quintavalle@example.fr'], env);
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout).leads).toEqual([]);
    const other = await runCli(['privacy', 'export', '--email', 'paul.durand@example.fr'], env);
    expect(JSON.parse(other.stdout).leads.map((l: { id: string }) => l.id)).toEqual([stranger]);
  });
});
