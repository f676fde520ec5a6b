// Shared pieces of the benchmarks: a leadgate child process, a loopback CRM, autocannon as its own process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..');
export const API_KEY = 'bench-key-merciplus-0123456789';

export const EXAMPLE_LEAD = {
  contact: {
    first_name: 'Camille',
    last_name: 'Martin',
    email: 'Camille.Martin@Example.fr',
    phone: '06 12 34 56 78',
    postal_code: '75011',
    city: 'Paris',
  },
  service: 'menage',
  message: 'Devis pour 3 h de ménage par semaine',
  consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté" },
  source: { url: 'https://www.merci-plus.example/devis', form: 'devis', utm: { source: 'google', medium: 'cpc' } },
  meta: { any: 'string values, at most 20 keys' },
};

/** A CRM that answers 200 at once and counts what it got. */
export async function startCrm() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/leads`,
    received: () => received,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

export function workspace(crmUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'leadgate-bench-'));
  const configPath = join(dir, 'leadgate.yaml');
  writeFileSync(
    configPath,
    `brands:
  - id: merciplus
    api_keys: ["${API_KEY}"]
    default_country: FR
destinations:
  - id: crm-main
    url: "${crmUrl}"
    timeout_ms: 5000
    signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
routes:
  - brands: ["*"]
    destinations: [crm-main]
`,
  );
  return { dir, configPath, dataDir: join(dir, 'data'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts `leadgate <command>`; resolves with its url once it logged `leadgate started`. */
export async function startLeadgate(command, env) {
  const child = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), command], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const started = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`leadgate exited with ${code}`)));
    lines.on('line', (line) => {
      if (line.includes('"leadgate started"')) resolve(JSON.parse(line));
    });
  });
  // Keep draining stdout (one log line per lead) so the pipe never blocks the server.
  return {
    child,
    pid: child.pid,
    url: started.address ? `http://127.0.0.1:${started.address.port}` : null,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Runs autocannon in its own process and returns its JSON result. */
export async function autocannon(args) {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/autocannon/autocannon.js'), '--json', ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  await once(child, 'exit');
  return JSON.parse(out);
}

/** RSS of a process in MB, from /proc (Linux). */
export async function rssMb(pid) {
  const { readFileSync } = await import('node:fs');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
