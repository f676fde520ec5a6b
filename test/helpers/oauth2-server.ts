import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OAuth2 token endpoint (client credentials) on a real loopback server (port 0):
 * records every token request, issues random bearer tokens with `expires_in`, and can be
 * told to fail. CRM fakes ask it whether a presented token is valid.
 */

export interface TokenRequest {
  headers: IncomingHttpHeaders;
  rawBody: string;
  form: URLSearchParams;
  /** `[client_id, client_secret]` decoded from `Authorization: Basic`, or null. */
  basic: [string, string] | null;
}

export interface FakeOAuth2Server {
  /** `http://127.0.0.1:<port>/oauth/token` */
  readonly url: string;
  readonly requests: readonly TokenRequest[];
  /** Every token issued, oldest first. */
  readonly issued: readonly string[];
  /** `expires_in` of the next tokens (seconds); null leaves it out. Default 3600. */
  expiresIn: number | null;
  /** Answer every later request with this status (e.g. 503); null issues tokens again. */
  failWith(status: number | null): void;
  /** The token is no longer accepted by `isValid` (revoked before its expiry). */
  revoke(token: string): void;
  /** Whether an `Authorization` header carries a token this server issued and did not revoke. */
  isValid(authorization: string | undefined): boolean;
  waitForRequests(n: number, timeoutMs?: number): Promise<TokenRequest[]>;
  close(): Promise<void>;
}

export async function startFakeOAuth2Server(
  options: { clientId: string; clientSecret: string; expiresIn?: number | null },
): Promise<FakeOAuth2Server> {
  const requests: TokenRequest[] = [];
  const issued: string[] = [];
  const revoked = new Set<string>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let failStatus: number | null = null;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const record: TokenRequest = { headers: req.headers, rawBody, form: new URLSearchParams(rawBody), basic: parseBasic(req.headers.authorization) };
      requests.push(record);
      events.emit('request');
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (failStatus !== null) return json(failStatus, { error: 'temporarily_unavailable' });
      if (req.method !== 'POST' || record.form.get('grant_type') !== 'client_credentials') {
        return json(400, { error: 'unsupported_grant_type' });
      }
      const [id, secret] = record.basic ?? [null, null];
      if (id !== options.clientId || secret !== options.clientSecret) return json(401, { error: 'invalid_client' });
      const token = `at_${issued.length + 1}_${randomBytes(12).toString('hex')}`;
      issued.push(token);
      json(200, { access_token: token, token_type: 'Bearer', ...(api.expiresIn === null ? {} : { expires_in: api.expiresIn }) });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;

  const api: FakeOAuth2Server = {
    url: `http://127.0.0.1:${port}/oauth/token`,
    requests,
    issued,
    expiresIn: options.expiresIn === undefined ? 3600 : options.expiresIn,
    failWith(status) {
      failStatus = status;
    },
    revoke(token) {
      revoked.add(token);
    },
    isValid(authorization) {
      const match = /^Bearer (\S+)$/.exec(authorization ?? '');
      return match !== null && issued.includes(match[1]!) && !revoked.has(match[1]!);
    },
    waitForRequests(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve([...requests]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off('request', onRequest);
          reject(new Error(`fake OAuth2 server: expected ${n} token requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        const onRequest = () => {
          if (requests.length < n) return;
          clearTimeout(timer);
          events.off('request', onRequest);
          resolve([...requests]);
        };
        events.on('request', onRequest);
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return api;
}

/** RFC 6749 §2.3.1: base64 of form-urlencoded id and secret joined by a colon. */
function parseBasic(header: string | undefined): [string, string] | null {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return [unform(decoded.slice(0, colon)), unform(decoded.slice(colon + 1))];
}
