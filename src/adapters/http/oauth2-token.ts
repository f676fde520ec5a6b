import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import type { OAuth2Auth, TokenProvider, TokenResult } from '../../ports/token-provider.js';
import { errorCode, isTimeout } from './destination-client.js';

/**
 * OAuth2 client credentials (RFC 6749 §4.4) for destinations with `auth: {type: oauth2}`.
 *
 * - The client authenticates with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1: the
 *   method every server must support): `Authorization: Basic base64(urlenc(id):urlenc(secret))`.
 *   The form body carries `grant_type=client_credentials`, and `scope` / `audience` when set;
 *   never the secret.
 * - One token per destination, reused until `expires_in` minus a margin (10 % of its lifetime,
 *   at most 60 s) has passed since it was requested; then the next caller fetches a new one.
 *   A token without `expires_in` is kept for DEFAULT_LIFETIME_MS.
 * - Concurrent callers share one in-flight request per destination (single flight).
 * - When a refresh fails while the old token has not yet expired, the old token is used.
 * - Errors name the status or the network error code only: never the secret, the token or
 *   what the endpoint answered (it may echo credentials).
 */

export const DEFAULT_LIFETIME_MS = 300_000;
const MAX_MARGIN_MS = 60_000;
/** A token response is a few hundred bytes; anything far bigger is not one. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface OAuth2TokenProviderOptions {
  /** Epoch ms; injectable so tests move time without sleeping. */
  now?: () => number;
  dispatcher?: Dispatcher;
}

interface CachedToken {
  accessToken: string;
  refreshAt: number;
  expiresAt: number;
}

export class OAuth2TokenProvider implements TokenProvider {
  private readonly now: () => number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly cache = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<TokenResult>>();

  constructor(options: OAuth2TokenProviderOptions = {}) {
    this.now = options.now ?? Date.now;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({ connections: 4, keepAliveTimeout: 4_000 });
  }

  getToken(destinationId: string, auth: OAuth2Auth, timeoutMs: number): Promise<TokenResult> {
    const cached = this.cache.get(destinationId);
    if (cached && this.now() < cached.refreshAt) return Promise.resolve({ ok: true, accessToken: cached.accessToken });
    let pending = this.inFlight.get(destinationId);
    if (!pending) {
      pending = this.refresh(destinationId, auth, timeoutMs).finally(() => this.inFlight.delete(destinationId));
      this.inFlight.set(destinationId, pending);
    }
    return pending;
  }

  invalidate(destinationId: string, accessToken: string): void {
    if (this.cache.get(destinationId)?.accessToken === accessToken) this.cache.delete(destinationId);
  }

  async close(): Promise<void> {
    this.cache.clear();
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async refresh(destinationId: string, auth: OAuth2Auth, timeoutMs: number): Promise<TokenResult> {
    const requestedAt = this.now();
    const fetched = await this.fetchToken(auth, timeoutMs);
    if (!fetched.ok) {
      const previous = this.cache.get(destinationId);
      if (previous && this.now() < previous.expiresAt) return { ok: true, accessToken: previous.accessToken };
      this.cache.delete(destinationId);
      return fetched;
    }
    // Counted from when we asked, not when the answer came: the server's clock started earlier.
    const lifetimeMs = fetched.expiresInMs ?? DEFAULT_LIFETIME_MS;
    const margin = Math.min(MAX_MARGIN_MS, lifetimeMs * 0.1);
    this.cache.set(destinationId, {
      accessToken: fetched.accessToken,
      refreshAt: requestedAt + lifetimeMs - margin,
      expiresAt: requestedAt + lifetimeMs,
    });
    return { ok: true, accessToken: fetched.accessToken };
  }

  private async fetchToken(
    auth: OAuth2Auth,
    timeoutMs: number,
  ): Promise<{ ok: true; accessToken: string; expiresInMs: number | null } | { ok: false; error: string; durationMs: number }> {
    const started = performance.now();
    const fail = (error: string) => ({ ok: false as const, error: `oauth2 token: ${error}`, durationMs: Math.round(performance.now() - started) });
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope !== null) form.set('scope', auth.scope);
    if (auth.audience !== null) form.set('audience', auth.audience);
    const credentials = `${formEncode(auth.clientId)}:${formEncode(auth.clientSecret)}`;
    try {
      const res = await request(auth.tokenUrl, {
        dispatcher: this.dispatcher,
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await readText(res.body);
      if (res.statusCode < 200 || res.statusCode > 299) return fail(`http ${res.statusCode}`);
      const parsed = parseTokenResponse(text);
      return parsed === null ? fail('invalid token response') : { ok: true, ...parsed };
    } catch (err) {
      if (isTimeout(err)) return fail(`timeout after ${timeoutMs} ms`);
      return fail(`network: ${errorCode(err)}`);
    }
  }
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) return '';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 6749 §5.1: `access_token`, `token_type` (Bearer), `expires_in` (seconds, recommended). */
export function parseTokenResponse(text: string): { accessToken: string; expiresInMs: number | null } | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (json === null || typeof json !== 'object') return null;
  const { access_token: token, token_type: type, expires_in: expiresIn } = json as Record<string, unknown>;
  // Visible ASCII only: the token goes into a header as is.
  if (typeof token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(token)) return null;
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) return null;
  // Some servers send the number as a string.
  const seconds = typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
  if (seconds === undefined || seconds === null) return { accessToken: token, expiresInMs: null };
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return null;
  return { accessToken: token, expiresInMs: seconds * 1000 };
}
