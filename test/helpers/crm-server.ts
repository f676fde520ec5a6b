import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake CRM on a real loopback HTTP server (port 0): records every request and answers as
 * programmed. Shared by integration and end-to-end tests; each test creates its own.
 */

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  /** Lower-cased names, as node parses them. */
  headers: IncomingHttpHeaders;
  body: string;
  /** Epoch ms when the body had been read. */
  receivedAt: number;
}

export interface CrmResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Default `{"ok":true}` for 2xx, empty otherwise. */
  body?: string | Buffer;
  /** Answer after this many ms (the server's own timer, not a test wait). */
  delayMs?: number;
  /** Never answer: the request stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Destroy the socket without answering (the client sees a reset). */
  reset?: boolean;
}

/** Decides the answer to one request; `index` is the 0-based position among all requests. */
export type CrmResponder = (req: RecordedRequest, index: number) => CrmResponse | Promise<CrmResponse>;

export interface FakeCrm {
  /** `http://127.0.0.1:<port>/leads` */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly requests: readonly RecordedRequest[];
  /** Replace the responder for all later requests. */
  respondWith(responder: CrmResponder | CrmResponse): void;
  /** Answer the next requests with these, in order, then fall back to the responder. */
  queueResponses(...responses: CrmResponse[]): void;
  /** Requests received per `webhook-id`. */
  countById(webhookId: string): number;
  requestsById(webhookId: string): RecordedRequest[];
  /** Resolves once at least `n` requests in total (or `n` with `predicate`) have been received. */
  waitForRequests(
    n: number,
    options?: { predicate?: (req: RecordedRequest) => boolean; timeoutMs?: number },
  ): Promise<RecordedRequest[]>;
  /** Parse each body as JSON. */
  bodies<T = unknown>(): T[];
  reset(): void;
  /** Stop listening and drop open (hanging) connections. Idempotent. */
  close(): Promise<void>;
}

export async function startFakeCrm(
  options: { responder?: CrmResponder | CrmResponse; path?: string } = {},
): Promise<FakeCrm> {
  const requests: RecordedRequest[] = [];
  const scripted: CrmResponse[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const toResponder = (r: CrmResponder | CrmResponse): CrmResponder => (typeof r === 'function' ? r : () => r);
  let responder: CrmResponder = toResponder(options.responder ?? {});
  const pendingTimers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      const index = requests.length;
      requests.push(recorded);
      events.emit('request', recorded);
      const next = scripted.shift();
      Promise.resolve(next ?? responder(recorded, index))
        .then((spec) => answer(res, spec))
        .catch(() => answer(res, { status: 500, body: 'fake crm responder failed' }));
    });
  });
  // Tests that end while a request hangs must not keep the process alive.
  server.keepAliveTimeout = 1_000;

  function answer(res: ServerResponse, spec: CrmResponse): void {
    if (spec.hang) return;
    if (spec.reset) {
      res.socket?.destroy();
      return;
    }
    const send = () => {
      if (res.destroyed) return;
      const status = spec.status ?? 200;
      const body = spec.body ?? (status >= 200 && status < 300 ? '{"ok":true}' : '');
      res.writeHead(status, { 'content-type': 'application/json', ...spec.headers });
      res.end(body);
    };
    if (spec.delayMs && spec.delayMs > 0) {
      const timer = setTimeout(() => {
        pendingTimers.delete(timer);
        send();
      }, spec.delayMs);
      pendingTimers.add(timer);
    } else {
      send();
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | null = null;

  const byId = (id: string) => requests.filter((r) => r.headers['webhook-id'] === id);

  return {
    url: `${origin}${options.path ?? '/leads'}`,
    origin,
    port,
    requests,
    respondWith(r) {
      responder = toResponder(r);
    },
    queueResponses(...responses) {
      scripted.push(...responses);
    },
    countById: (id) => byId(id).length,
    requestsById: byId,
    waitForRequests(n, { predicate = () => true, timeoutMs = 10_000 } = {}) {
      const matching = () => requests.filter(predicate);
      if (matching().length >= n) return Promise.resolve(matching());
      return new Promise((resolve, reject) => {
        // A safety net so a missing request fails with a message instead of the test timeout.
        const timer = setTimeout(() => {
          events.off('request', onRequest);
          reject(new Error(`fake CRM: expected ${n} matching requests within ${timeoutMs} ms, got ${matching().length}`));
        }, timeoutMs);
        const onRequest = () => {
          const found = matching();
          if (found.length < n) return;
          clearTimeout(timer);
          events.off('request', onRequest);
          resolve(found);
        };
        events.on('request', onRequest);
      });
    },
    bodies<T>() {
      return requests.map((r) => JSON.parse(r.body) as T);
    },
    reset() {
      requests.length = 0;
      scripted.length = 0;
      responder = toResponder({});
    },
    close() {
      closed ??= (async () => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
      })();
      return closed;
    },
  };
}

/** A loopback port with nothing listening on it: connecting gets ECONNREFUSED. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
