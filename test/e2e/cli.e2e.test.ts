import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { EXAMPLE_LEAD, getJson, postLead } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { runCli, startLeadgate } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

const cleanups = cleanupAfterEach();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leadgate-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('leadgate CLI', () => {
  it('config check: ok for the bundled example, exit 78 naming every bad key otherwise', async () => {
    const ok = await runCli(['config', 'check', 'config/leadgate.example.yaml'], {});
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/leadgate\.example\.yaml: ok \(1 brands, 1 destinations, 1 routes\)/);

    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'brands:\n  - id: BAD\n    api_keys: []\n    default_country: FR\nroutes:\n  - destinations: [nowhere]\n');
    const bad = await runCli(['config', 'check', file], {});
    expect(bad.code).toBe(78);
    const lines = bad.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^leadgate: brands\[0\]\.id: /),
      expect.stringMatching(/^leadgate: brands\[0\]\.api_keys: /),
      expect.stringMatching(/^leadgate: routes\[0\]\.destinations\[0\]: unknown destination "nowhere"/),
    ]);
    expect(bad.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it('a bad setting stops the process at start with exit 78 and one line per problem', async () => {
    const result = await runCli(['serve'], { PORT: 'eighty', LEADGATE_QUEUE: 'kafka', LEADGATE_DATA_DIR: tempDir() });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^leadgate: PORT: /),
      expect.stringMatching(/^leadgate: LEADGATE_QUEUE: /),
    ]);
  });

  it('a missing config file and a bad one at serve time exit 78 too', async () => {
    const missing = await runCli(['serve'], { LEADGATE_CONFIG: '/nonexistent.yaml', LEADGATE_DATA_DIR: tempDir() });
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/cannot be read \(ENOENT\)/);
  });

  it('fails closed: without --demo and without a config file, every command exits 78 naming LEADGATE_CONFIG', async () => {
    for (const args of [['serve'], ['api'], ['worker'], ['config', 'check']]) {
      const result = await runCli(args, { LEADGATE_DATA_DIR: join(tempDir(), 'data') }, { cwd: tempDir() });
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 78]);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^leadgate: LEADGATE_CONFIG: no config file/)]);
    }
    // --demo is for serve only.
    expect((await runCli(['api', '--demo'], {}, { cwd: tempDir() })).code).toBe(64);
  });

  it('unknown commands print the usage with exit 64', async () => {
    const result = await runCli(['frobnicate'], {});
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/usage: leadgate <command>/);
  });

  it('on a fresh clone, serve --demo runs the bundled example and its demo CRM visibly receives the lead', async () => {
    // The README's walk-through (npm start = leadgate serve --demo). The example's destination is
    // the demo CRM on the ops listener (port 9464 unless DEMO_CRM_URL says otherwise): here a free port.
    const opsPort = String(await freePort());
    const leadgate = await startLeadgate('serve --demo', {
      LEADGATE_DATA_DIR: join(tempDir(), 'data'),
      LEADGATE_OPS_PORT: opsPort,
      DEMO_CRM_URL: `http://127.0.0.1:${opsPort}/demo/crm/leads`,
    });
    cleanups.push(async () => {
      if (leadgate.child.exitCode === null) leadgate.child.kill('SIGTERM');
      await leadgate.exited;
    });
    const accepted = await postLead(leadgate.url, 'demo-secret-key-merciplus-0001', EXAMPLE_LEAD);
    expect(accepted.status).toBe(202);
    await waitFor(async () => {
      const received = (await getJson(`${leadgate.opsUrl}/demo/crm/leads`)).body.items as { lead_id: string }[];
      return received.some((r) => r.lead_id === accepted.body.id);
    }, { what: 'the demo CRM to receive the lead' });
    // What `npm start` runs (the README's first command).
    expect(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts.start).toBe('node dist/cli.js serve --demo');
    // The demo CRM is never on the public listener.
    expect((await getJson(`${leadgate.url}/demo/crm/leads`)).status).toBe(404);
  });
});
