import { deliveryLedger, startCluster } from './cluster.js';
import { closedPort, startFakeCrm } from './crm-server.js';
import { API_KEY, e2eConfig } from './e2e-config.js';
import { startHaproxy, type Haproxy } from './haproxy.js';
import { EXAMPLE_LEAD, getJson, postLead } from './http-client.js';
import { waitFor } from './wait.js';
import { makeWorkspace, type LeadgateProcess } from './leadgate-process.js';

/**
 * The load-balancer rehearsal of a rolling deployment: haproxy in round robin over 3 api
 * instances and 2 workers on DynamoDB (DynamoDB Local) with BullMQ (a redis-server) or SQS
 * (fauxqs, in this process), load through haproxy, then every instance restarted one by one
 * (SIGTERM, a new one started, wait until it is ready). Used by
 * test/e2e/rolling-restart.e2e.test.ts and by `npm run rehearse`.
 */
export type RehearsalQueue = 'bullmq' | 'sqs';

export interface RehearsalFigures {
  queue: RehearsalQueue;
  sent: number;
  failed: number;
  /** What the failed requests got, e.g. {"502": 1, "ECONNRESET": 2}. */
  failures: Record<string, number>;
  accepted: number;
  delivered: number;
  duplicateWebhookIds: number;
  exitCodes: (number | string)[];
  seconds: number;
  /**
   * Seconds spent in each phase: backends (emulators and migrate), first processes until 200
   * leads were accepted, api restarts, worker restarts, last deliveries.
   */
  phases: { backends: number; start: number; apis: number; workers: number; drain: number };
}

export async function rehearseRollingRestart(
  options: { queue?: RehearsalQueue; clients?: number; maxRequests?: number } = {},
): Promise<RehearsalFigures> {
  const queue = options.queue ?? 'bullmq';
  const clients = options.clients ?? 10;
  const maxRequests = options.maxRequests ?? 20_000;
  const started = Date.now();
  const marks: number[] = [started];
  const phase = (from: number, to: number) => (marks[to] && marks[from] ? Math.round((marks[to]! - marks[from]!) / 100) / 10 : 0);
  const ledger = deliveryLedger();
  const crm = await startFakeCrm({
    responder: (req) => {
      ledger.record(req.body, req.headers['webhook-id'] as string);
      return { status: 200 };
    },
  });
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['200ms', '500ms', '1s', '2s'] }]));
  const cluster = await startCluster(queue, {
    LEADGATE_CONFIG: workspace.configPath,
    // The BullMQ lock, or the SQS visibility timeout: a message a stopped worker held comes back after it.
    LEADGATE_JOB_LEASE_MS: '3000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    // haproxy checks every 300 ms and takes a server out after three failed checks.
    SHUTDOWN_DRAIN_DELAY_MS: '1500',
    // The emulated DynamoDB shares the 2 cores with everything else and can be slow under load:
    // a slow answer must not read as "not ready" on every instance at once.
    LEADGATE_READY_CHECK_TIMEOUT_MS: '4000',
    LEADGATE_SWEEP_INTERVAL_MS: '1000',
    LEADGATE_SWEEP_GRACE_MS: '5000',
  });
  marks[5] = Date.now();
  const accepted: string[] = [];
  const failures: Record<string, number> = {};
  let sent = 0;
  let stop = false;
  const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
  const exitCodes: (number | string)[] = [];
  // Whatever happens from here on, every process and server this rehearsal started is stopped.
  let haproxy: Haproxy | null = null;
  try {
    const haproxyPorts = [await closedPort(), await closedPort(), await closedPort()];
    const startApi = (port: number) => cluster.start('api', { PORT: String(port) });
    // Every process at once (their start-ups overlap their waits); haproxy once the apis are
    // ready, so that its first health checks find them up.
    const first = await Promise.all([...haproxyPorts.map(startApi), cluster.start('worker'), cluster.start('worker')]);
    let apis: LeadgateProcess[] = first.slice(0, 3);
    let workers: LeadgateProcess[] = first.slice(3);
    const proxy = await startHaproxy(haproxyPorts);
    haproxy = proxy;

    const load = Promise.all(
      Array.from({ length: clients }, async () => {
        while (!stop && sent < maxRequests) {
          sent++;
          try {
            const res = await postLead(proxy.url, API_KEY, EXAMPLE_LEAD);
            if (res.status === 202) accepted.push(res.body.id as string);
            else fail(String(res.status));
          } catch (err) {
            // A network error (its code), or an answer that was not leadgate's JSON (haproxy's own page).
            fail((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name);
          }
        }
      }),
    );

    try {
      await waitFor(() => accepted.length >= 200, { what: `load to flow through haproxy (sent ${sent}, accepted ${accepted.length}, failures ${JSON.stringify(failures)})` });
      marks[1] = Date.now();
      for (let i = 0; i < apis.length; i++) {
        const old = apis[i]!;
        old.child.kill('SIGTERM');
        exitCodes.push(await old.exited);
        const fresh = await startApi(haproxyPorts[i]!);
        await waitFor(async () => (await getJson(`${fresh.url}/health/ready`)).status === 200, { what: 'the new api to be ready' });
        apis = apis.map((a) => (a === old ? fresh : a));
        const before = accepted.length;
        await waitFor(() => accepted.length >= before + 100, { what: 'load to keep flowing' });
      }
      marks[2] = Date.now();
      for (let i = 0; i < workers.length; i++) {
        const old = workers[i]!;
        old.child.kill('SIGTERM');
        exitCodes.push(await old.exited);
        const fresh = await cluster.start('worker');
        workers = workers.map((w) => (w === old ? fresh : w));
      }
      marks[3] = Date.now();
    } finally {
      stop = true;
      await load;
    }
    await waitFor(() => ledger.missing(accepted).length === 0, { what: 'every accepted lead delivered', timeoutMs: 120_000 });
    marks[4] = Date.now();
  } finally {
    await haproxy?.stop();
    await cluster.close();
    await crm.close();
    workspace.cleanup();
  }
  return {
    queue,
    sent,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    accepted: accepted.length,
    delivered: accepted.length - ledger.missing(accepted).length,
    duplicateWebhookIds: ledger.duplicates(),
    exitCodes,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    phases: { backends: phase(0, 5), start: phase(5, 1), apis: phase(1, 2), workers: phase(2, 3), drain: phase(3, 4) },
  };
}
