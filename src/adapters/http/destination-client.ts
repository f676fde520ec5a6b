import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
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

  constructor(options: HttpDestinationClientOptions = {}) {
    this.agent = new Agent({
      connections: options.connections ?? 64,
      // No pipelining: a slow or failing request must not hold others hostage on its socket.
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    });
  }

  async send(req: OutboundRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // One deadline for the whole exchange (connect, headers, body); undici's own timeouts
    // are set to the same value as a second line. A timer cleared at the end rather than
    // AbortSignal.timeout(), whose signal and timer live until the deadline even after the
    // answer came: thousands alive at once while draining, promoted to the old generation
    // (a worker draining with 2 s timeouts: RSS 130 -> 125 MB, deliveries/s unchanged).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException('deadline reached', 'TimeoutError')), req.timeoutMs);
    const signal = deadline.signal;
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal,
      });
      const retryAfterMs = parseRetryAfter(headerValue(res.headers['retry-after']), Date.now());
      // Once the status is known the destination has decided; a body that breaks off
      // afterwards must not turn a 200 into a retry (or a 400 into a timeout).
      const body = await readBounded(res.body).catch(() => '');
      return { kind: 'response', statusCode: res.statusCode, retryAfterMs, body, durationMs: elapsed() };
    } catch (err) {
      if (isTimeout(err)) {
        return { kind: 'failure', errorClass: 'timeout', error: `timeout after ${req.timeoutMs} ms`, durationMs: elapsed() };
      }
      return { kind: 'failure', errorClass: 'network', error: `network: ${errorCode(err)}`, durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let seen = 0;
  for await (const chunk of body) {
    if (keptBytes < MAX_RESPONSE_BODY_BYTES) {
      const part = chunk.subarray(0, MAX_RESPONSE_BODY_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    seen += chunk.length;
    // Leaving the loop destroys the stream (and the socket): fine for an oversized answer.
    if (seen > DRAIN_LIMIT_BYTES) break;
  }
  // A cut in the middle of a multi-byte character decodes to U+FFFD, which is harmless here.
  return Buffer.concat(kept).toString('utf8');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
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
