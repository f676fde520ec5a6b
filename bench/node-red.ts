import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, sleep } from './support.js';

/** A free loopback port: Node-RED cannot report the port it got for 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Node-RED 4 (a devDependency) running bench/node-red/flow.json in its own process: validate →
 * POST to the CRM → 202. Its answer comes after the CRM's, so its req/s is a whole-job rate.
 */
export async function startNodeRed(crmUrl: string, apiKey: string): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const userDir = mkdtempSync(join(tmpdir(), 'leadgate-node-red-'));
  copyFileSync(join(REPO, 'bench/node-red/flow.json'), join(userDir, 'flow.json'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(REPO, 'node_modules/node-red/red.js'), '--userDir', userDir, '--settings', join(REPO, 'bench/node-red/settings.cjs')],
    { env: { PATH: process.env.PATH ?? '', PORT: String(port), CRM_URL: crmUrl, API_KEY: apiKey, NODE_OPTIONS: '--max-old-space-size=512' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  // Ready once the flow answers (a 401 without a key).
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v1/leads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await res.text();
      if (res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || i > 300) throw new Error('node-red did not start');
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}
