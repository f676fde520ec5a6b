import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { closedPort, startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { API_KEY, SIGNING_SECRET } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, postLead } from '../helpers/http-client.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { startFrontProxy, type FrontProxy } from './front-proxy.js';

/**
 * The PHP client (clients/php) against a real `leadgate serve`: each test starts leadgate, a
 * loopback CRM and a steerable load balancer in front (front-proxy.ts), then runs one PHPUnit
 * group with Debian's php and phpunit, and fails unless PHPUnit ran its tests and all passed.
 */

const PHP_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../clients/php');
const RATE_LIMITED_KEY = 'php-rate-limited-key-0123456789';
const RATE_LIMIT_PER_MINUTE = 2;

const cleanups = cleanupAfterEach();

function configYaml(crm: FakeCrm): string {
  return `brands:
  - id: merciplus
    api_keys: ["${API_KEY}"]
    allowed_origins: ["https://www.merci-plus.example"]
    default_country: FR
  - id: limited
    api_keys: ["${RATE_LIMITED_KEY}"]
    default_country: FR
    rate_limit: { per_minute: ${RATE_LIMIT_PER_MINUTE} }
destinations:
  - id: crm-main
    url: "${crm.url}"
    timeout_ms: 2000
    signing_secret: "${SIGNING_SECRET}"
    retry:
      delays: ["50ms", "100ms", "100ms"]
routes:
  - brands: ["*"]
    destinations: [crm-main]
`;
}

interface Stack {
  crm: FakeCrm;
  front: FrontProxy;
  current(): LeadgateProcess;
  dir: string;
}

async function setUp(): Promise<Stack> {
  const crm = await startFakeCrm();
  cleanups.push(() => crm.close());
  const workspace = makeWorkspace(configYaml(crm));
  cleanups.push(() => workspace.cleanup());
  const env = { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir, LEADGATE_OPS_PORT: '0' };

  let leadgate: LeadgateProcess | null = await startLeadgate('serve', env);
  const stop = async () => {
    const running = leadgate;
    leadgate = null;
    if (running === null) return;
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGTERM');
    await running.exited;
  };
  const front = await startFrontProxy(leadgate.url, {
    async start() {
      leadgate = await startLeadgate('serve', env);
      return leadgate.url;
    },
    stop,
  });
  // Reverse order: the front first (it waits for a restart under way), then leadgate.
  cleanups.push(stop);
  cleanups.push(() => front.close());
  return {
    crm,
    front,
    dir: workspace.dir,
    current() {
      if (leadgate === null) throw new Error('leadgate is not running');
      return leadgate;
    },
  };
}

interface PhpunitRun {
  code: number;
  output: string;
  tests: number;
  assertions: number;
  failures: number;
  errors: number;
  skipped: number;
  warnings: number;
}

/** Runs one PHPUnit group; the counts come from its JUnit report. */
function phpunit(args: string[], env: Record<string, string>, junitPath: string): Promise<PhpunitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('phpunit', ['--configuration', 'phpunit.xml', '--log-junit', junitPath, ...args], {
      cwd: PHP_DIR,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let xml = '';
      try {
        xml = readFileSync(junitPath, 'utf8');
      } catch {
        // PHPUnit died before writing its report: the counts stay at zero and the test fails.
      }
      // The first <testsuite> is the aggregate of the whole run.
      const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
      const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
      resolve({
        code: code ?? -1,
        output,
        tests: count('tests'),
        assertions: count('assertions'),
        failures: count('failures'),
        errors: count('errors'),
        skipped: count('skipped'),
        warnings: count('warnings'),
      });
    });
  });
}

async function runGroup(
  stack: Stack,
  group: string,
  extraEnv: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<PhpunitRun> {
  const env = {
    LEADGATE_URL: stack.front.url,
    LEADGATE_KEY: API_KEY,
    LEADGATE_FRONT: stack.front.url,
    LEADGATE_RATE_LIMITED_KEY: RATE_LIMITED_KEY,
    LEADGATE_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    LEADGATE_CLOSED_URL: `http://127.0.0.1:${await closedPort()}`,
    LEADGATE_SIGNING_SECRET: SIGNING_SECRET,
    LEADGATE_TEST_TMP: stack.dir,
    ...extraEnv,
  };
  const run = await phpunit(['--group', group, ...extraArgs], env, join(stack.dir, `junit-${group}.xml`));
  await stack.front.settled();
  return run;
}

function expectAllPassed(run: PhpunitRun, atLeast: number): void {
  if (run.code !== 0) console.error(run.output);
  expect(run.code).toBe(0);
  expect(run.tests).toBeGreaterThanOrEqual(atLeast);
  expect(run.assertions).toBeGreaterThan(run.tests);
  expect({ failures: run.failures, errors: run.errors, skipped: run.skipped, warnings: run.warnings }).toEqual({
    failures: 0,
    errors: 0,
    skipped: 0,
    warnings: 0,
  });
  console.log(`PHPUnit: ${run.tests} tests, ${run.assertions} assertions, all passed`);
}

/** Every lead leadgate created through the front reached the CRM; no key created two. */
async function expectOneLeadPerKeyDelivered(stack: Stack): Promise<void> {
  const created = stack.front.createdByKey();
  expect(created.size).toBeGreaterThan(0);
  for (const [key, ids] of created) expect({ key, leads: ids.length }).toEqual({ key, leads: 1 });
  const ids = [...created.values()].flat();
  await stack.crm.waitForRequests(ids.length, {
    predicate: (r) => ids.includes((JSON.parse(r.body) as { data: { id: string } }).data.id),
    timeoutMs: 30_000,
  });
}

describe('PHP client against a real leadgate', () => {
  it('Leadgate\\Client: submit, replay, every error, retries through outages and a restart', async () => {
    const stack = await setUp();
    const run = await runGroup(stack, 'client');
    expectAllPassed(run, 12);
    await expectOneLeadPerKeyDelivered(stack);
    // Server to server: the secret key as a bearer token, JSON, a User-Agent, and no Origin.
    const forwarded = stack.front.records.filter((r) => r.outcome === 'forwarded' && r.status === 202);
    expect(forwarded.length).toBeGreaterThan(0);
    for (const r of forwarded) {
      expect(r.headers['content-type']).toBe('application/json');
      expect([`Bearer ${API_KEY}`, `Bearer ${RATE_LIMITED_KEY}`]).toContain(r.headers.authorization);
      expect(r.headers['user-agent']).toMatch(/^leadgate-php\//);
      expect(r.headers.origin).toBeUndefined();
    }
  });

  it('Leadgate\\Webhook::verify: deliveries signed by leadgate pass, tampered or stale ones do not', async () => {
    const stack = await setUp();
    // The CRM fails the first attempt: leadgate's retry is a second, separately signed request.
    stack.crm.queueResponses({ status: 503 });
    const accepted = await postLead(stack.current().url, API_KEY, EXAMPLE_LEAD);
    expect(accepted.status).toBe(202);
    const deliveries = await stack.crm.waitForRequests(2);
    const fixture = join(stack.dir, 'deliveries.json');
    writeFileSync(fixture, JSON.stringify(deliveries.map((d) => ({ lead_id: accepted.body.id, headers: d.headers, body: d.body }))));

    const run = await runGroup(stack, 'webhook', { LEADGATE_WEBHOOK_FIXTURE: fixture });
    expectAllPassed(run, 6);
  });

  it('Laravel: discovered provider, published config, facade, and a queued job that waits out an outage', async () => {
    const stack = await setUp();
    const run = await runGroup(stack, 'laravel');
    expectAllPassed(run, 5);
    await expectOneLeadPerKeyDelivered(stack);
  });

  it('counts a failing PHPUnit run as failed (a wrong key fails the submit test)', async () => {
    const stack = await setUp();
    const run = await runGroup(stack, 'client', { LEADGATE_KEY: 'not-a-key-of-this-leadgate-0123' }, [
      '--filter',
      'testSubmitReturnsTheLeadIdAndSendsTheKey',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.tests).toBe(1);
    expect(run.failures + run.errors).toBe(1);
    expect(run.output).toContain('Leadgate\\Unauthorized');
  });
});
