import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer in front of a real leadgate, on loopback (port 0), that a client under test
 * (PHPUnit, in another process) steers through `/__front/*`, so its scenarios need no timing:
 *
 * - `POST /__front/fail-next {count, status, retry_after}`: answer the next `count` lead
 *   requests with that status (a JSON error body like leadgate's) instead of forwarding them.
 * - `POST /__front/down`: stop leadgate (SIGTERM, awaited); lead requests then get their socket
 *   closed without an answer (a network error) until `POST /__front/up` starts it again
 *   (same data dir) and answers once it logs `leadgate started`.
 * - `POST /__front/restart-on-next {forward}`: the next lead request is forwarded (forward:
 *   true; leadgate stores the lead) or not, its socket is closed without an answer either way
 *   (the answer is lost), and leadgate restarts; meanwhile lead requests get 503 +
 *   `Retry-After: 1`, as a load balancer with no healthy backend answers.
 * - `POST /__front/settle`: answers once a restart under way is over.
 * - `GET /__front/requests?key=<Idempotency-Key>`: every lead request seen with that key, in
 *   order, with what happened to it.
 */

export interface FrontRecord {
  key: string | null;
  receivedAt: number;
  /** forwarded: leadgate's answer passed on; lost: leadgate answered, the client never saw it;
   * scripted: a fail-next answer; reset: closed unanswered, leadgate down; restarting: 503. */
  outcome: 'forwarded' | 'lost' | 'scripted' | 'reset' | 'restarting';
  status: number | null;
  /** The lead id of a 2xx from leadgate. */
  id: string | null;
  replayed: boolean;
  headers: { authorization?: string; 'content-type'?: string; 'user-agent'?: string; origin?: string };
}

export interface LeadgateLifecycle {
  /** Starts leadgate (again) and resolves with its base URL. */
  start(): Promise<string>;
  /** Stops leadgate and resolves once it exited. */
  stop(): Promise<void>;
}

export interface FrontProxy {
  readonly url: string;
  readonly records: readonly FrontRecord[];
  /** Leads leadgate created (a 2xx not replayed), per idempotency key. */
  createdByKey(): Map<string, string[]>;
  /** Resolves once no restart is under way (a test's cleanup must not race one). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export async function startFrontProxy(initialUpstream: string, leadgate: LeadgateLifecycle): Promise<FrontProxy> {
  let upstream: string | null = initialUpstream;
  let failNext: { count: number; status: number; retryAfter: number } = { count: 0, status: 503, retryAfter: 0 };
  let restartNext: { forward: boolean } | null = null;
  let restarting: Promise<void> = Promise.resolve();
  /** Stopped on request (`/__front/down`), as opposed to restarting on its own. */
  let down = false;
  const records: FrontRecord[] = [];

  const restart = (): void => {
    upstream = null;
    restarting = (async () => {
      await leadgate.stop();
      upstream = await leadgate.start();
    })();
  };

  async function onLead(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const record: FrontRecord = {
      key,
      receivedAt: Date.now(),
      outcome: 'forwarded',
      status: null,
      id: null,
      replayed: false,
      headers: pick(req.headers, ['authorization', 'content-type', 'user-agent', 'origin']),
    };
    records.push(record);

    if (failNext.count > 0) {
      failNext.count -= 1;
      Object.assign(record, { outcome: 'scripted', status: failNext.status });
      res.writeHead(failNext.status, { 'content-type': 'application/json', 'retry-after': String(failNext.retryAfter) });
      res.end(JSON.stringify({ error: 'unavailable', message: 'Service temporarily unavailable, retry later' }));
      return;
    }
    const scripted = restartNext;
    if (scripted !== null && upstream !== null) {
      restartNext = null;
      if (scripted.forward) {
        const answer = await forward(upstream, req, body);
        Object.assign(record, { outcome: 'lost', ...describe(answer) });
      } else {
        record.outcome = 'reset';
      }
      res.socket?.destroy();
      restart();
      return;
    }
    if (upstream === null) {
      if (down) {
        record.outcome = 'reset';
        res.socket?.destroy();
        return;
      }
      Object.assign(record, { outcome: 'restarting', status: 503 });
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('no healthy backend');
      return;
    }
    const answer = await forward(upstream, req, body);
    Object.assign(record, describe(answer));
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  async function onControl(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://front');
    const input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    switch (`${req.method} ${url.pathname}`) {
      case 'POST /__front/fail-next':
        failNext = { count: Number(input.count ?? 1), status: Number(input.status ?? 503), retryAfter: Number(input.retry_after ?? 0) };
        break;
      case 'POST /__front/down':
        await restarting;
        down = true;
        upstream = null;
        await leadgate.stop();
        break;
      case 'POST /__front/up':
        await restarting;
        upstream = await leadgate.start();
        down = false;
        break;
      case 'POST /__front/settle':
        await restarting;
        break;
      case 'POST /__front/restart-on-next':
        await restarting;
        restartNext = { forward: input.forward !== false };
        break;
      case 'GET /__front/requests': {
        const key = url.searchParams.get('key');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(records.filter((r) => r.key === key)));
        return;
      }
      default:
        res.writeHead(404).end();
        return;
    }
    res.writeHead(204).end();
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const handler = (req.url ?? '').startsWith('/__front/') ? onControl : onLead;
      handler(req, res, body).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`front proxy: ${String(err)}`);
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    records,
    createdByKey() {
      const created = new Map<string, string[]>();
      for (const r of records) {
        if (r.id === null || r.replayed || r.key === null) continue;
        created.set(r.key, [...(created.get(r.key) ?? []), r.id]);
      }
      return created;
    },
    settled: () => restarting,
    async close() {
      await restarting;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function forward(base: string, req: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers.host;
    const out = httpRequest(new URL(req.url ?? '/', base), { method: req.method, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body: Buffer.concat(chunks) }));
      answer.on('error', reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}

function describe(answer: Upstream): Pick<FrontRecord, 'status' | 'id' | 'replayed'> {
  let id: string | null = null;
  if (answer.status >= 200 && answer.status < 300) {
    const parsed = JSON.parse(answer.body.toString('utf8')) as { id?: unknown };
    id = typeof parsed.id === 'string' ? parsed.id : null;
  }
  return { status: answer.status, id, replayed: answer.headers['idempotent-replayed'] === 'true' };
}

function pick(headers: IncomingMessage['headers'], names: (keyof FrontRecord['headers'])[]): FrontRecord['headers'] {
  const out: FrontRecord['headers'] = {};
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
