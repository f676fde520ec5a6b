import { performance } from 'node:perf_hooks';
import { Agent, type Dispatcher } from 'undici';
import type { DestinationClient, OutboundRequest, SendResult } from '../../ports/destination-client.js';

/** The contract keeps at most 1 KiB of what a destination answers. */
export const MAX_RESPONSE_BODY_BYTES = 1024;

/**
 * Past this many bytes we stop reading and drop the connection. Below it we read the body to
 * its end (keeping only the first KiB) so the keep-alive connection can be reused.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export interface HttpDestinationClientOptions {
  /** Connections per origin: bounds the request rate a CRM sees from one process. */
  connections?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * Sends prepared requests with undici over one shared keep-alive agent. Never throws: every
 * failure becomes a `SendResult` with a closed error class and a message holding an error
 * code only (never a URL, which may carry credentials, nor a body).
 */
export class HttpDestinationClient implements DestinationClient {
  private readonly agent: Agent;
  private readonly targets = new Map<string, { origin: string; path: string }>();

  constructor(options: HttpDestinationClientOptions = {}) {
    this.agent = new Agent({
      connections: options.connections ?? 64,
      // No pipelining: a slow or failing request must not hold others hostage on its socket.
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    });
  }

  /**
   * One request through undici's dispatch handler: the status, Retry-After and at most 1 KiB of
   * the body are taken from the callbacks as they come, with no response stream, async iterator
   * or AbortSignal per request (those were a good share of a draining worker's garbage). One
   * deadline for the whole exchange (queueing for a connection, connect, headers, body) is a
   * timer cleared at the end; undici's own header and body timeouts are the same value, as a
   * second line.
   */
  send(req: OutboundRequest): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let settled = false;
      let controller: Dispatcher.DispatchController | null = null;
      let statusCode = 0;
      let retryAfter: string | undefined;
      let kept: Buffer[] | null = null;
      let keptBytes = 0;
      let seen = 0;
      const settle = (result: SendResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const response = (): SendResult => ({
        kind: 'response',
        statusCode,
        retryAfterMs: parseRetryAfter(retryAfter, Date.now()),
        body: kept === null ? '' : kept.length === 1 ? kept[0]!.toString('utf8') : Buffer.concat(kept).toString('utf8'),
        durationMs: elapsed(),
      });
      const failed = (err: unknown): void => {
        // Once the status is known the destination has decided; a body that breaks off
        // afterwards must not turn a 200 into a retry (or a 400 into a timeout).
        if (statusCode !== 0) return settle(response());
        if (isTimeout(err)) settle({ kind: 'failure', errorClass: 'timeout', error: `timeout after ${req.timeoutMs} ms`, durationMs: elapsed() });
        else settle({ kind: 'failure', errorClass: 'network', error: `network: ${errorCode(err)}`, durationMs: elapsed() });
      };
      const timer = setTimeout(() => {
        const reason = new DOMException('deadline reached', 'TimeoutError');
        controller?.abort(reason);
        failed(reason);
      }, req.timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (settled) c.abort(new DOMException('deadline reached', 'TimeoutError'));
        },
        onResponseStart(_c, code, headers) {
          statusCode = code;
          const value = headers['retry-after'];
          retryAfter = Array.isArray(value) ? value[0] : value;
        },
        onResponseData(c, chunk) {
          if (keptBytes < MAX_RESPONSE_BODY_BYTES) {
            const part = chunk.length <= MAX_RESPONSE_BODY_BYTES - keptBytes ? chunk : chunk.subarray(0, MAX_RESPONSE_BODY_BYTES - keptBytes);
            (kept ??= []).push(part);
            keptBytes += part.length;
          }
          seen += chunk.length;
          // Past the drain limit: stop reading and drop the connection (fine for an oversized answer).
          if (seen > DRAIN_LIMIT_BYTES) {
            settle(response());
            c.abort(new Error('response too large'));
          }
        },
        onResponseEnd() {
          settle(response());
        },
        onResponseError(_c, err) {
          failed(err);
        },
      };
      try {
        this.agent.dispatch(
          { ...this.target(req.url), method: 'POST', headers: req.headers, body: req.body, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs },
          handler,
        );
      } catch (err) {
        failed(err);
      }
    });
  }

  /** Origin and path of a destination URL, parsed once per URL (the config's, a handful). */
  private target(url: string): { origin: string; path: string } {
    let t = this.targets.get(url);
    if (!t) {
      const u = new URL(url);
      t = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (this.targets.size < 1_000) this.targets.set(url, t);
    }
    return t;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** `Retry-After: <seconds>` or `<HTTP-date>` → ms from `nowMs` (≥ 0); null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse would also accept things like "5" or ISO strings; require an IMF-fixdate-ish shape.
  if (!/[a-z]{3}/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError', 'HeadersTimeoutError', 'BodyTimeoutError', 'ConnectTimeoutError']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

export function isTimeout(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  return TIMEOUT_NAMES.has(String(e.name)) || TIMEOUT_CODES.has(String(e.code));
}

/** The most specific code we find (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET`, …), never a message. */
export function errorCode(err: unknown): string {
  let current: unknown = err;
  let fallback = 'UNKNOWN';
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const e = current as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    // Node's happy-eyeballs connect wraps one error per address in an AggregateError.
    const inner = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
    if (typeof e.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code)) {
      // Prefer a system code (ECONNREFUSED) from a cause over undici's generic wrapper code.
      if (!e.code.startsWith('UND_ERR') || inner === undefined) return e.code;
      fallback = e.code;
    } else if (fallback === 'UNKNOWN' && typeof e.name === 'string' && /^[A-Za-z]{1,64}$/.test(e.name)) {
      fallback = e.name;
    }
    current = inner;
  }
  return fallback;
}
