import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';

/** What the request-duration histogram's children offer. */
interface Observer {
  observe(seconds: number): void;
}
import { installErrorHandling, sendError } from './error-handler.js';
import type { ErrorCode } from './http-error.js';
import { JSON_BODY_LIMIT, installJsonParser } from './json-body.js';
import { securityHeadersOf } from './security-headers.js';

/** A client's request id is echoed only when it cannot forge log lines or bloat them. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * LEADGATE_TRUST_PROXY as Fastify wants it. Fastify 5 refuses a bare hop count (it cannot check
 * the immediate peer), so a count N becomes "believe the N nearest hops": right when only the
 * load balancer can reach the instance (EB's security groups); a CIDR list of the load
 * balancer's subnets is stricter and preferred (docs/configuration.md).
 */
function trustProxy(setting: number | string[] | undefined): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (setting === undefined) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting;
}

export interface ServerBaseOptions {
  logger: Logger;
  metrics: Metrics;
  /** Fastify's trustProxy: whom to believe for X-Forwarded-For (LEADGATE_TRUST_PROXY). */
  trustProxy?: number | string[];
  /** Called for every 4xx/5xx answered, with its error code. */
  onRejected?: (request: FastifyRequest, code: ErrorCode) => void;
}

/**
 * What both listeners share: one strict JSON parser, one error handler, request ids, the
 * request-duration histogram and the security headers. Never listens.
 */
export function createServerBase(options: ServerBaseOptions): FastifyInstance {
  const { metrics } = options;
  const app = Fastify({
    // Typed as the base logger so routes take a plain FastifyInstance (pino satisfies it).
    loggerInstance: options.logger as FastifyBaseLogger,
    // One `lead accepted` line per lead replaces the two per request, which cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestId,
    bodyLimit: JSON_BODY_LIMIT,
    return503OnClosing: true,
    trustProxy: trustProxy(options.trustProxy),
    // Longer than a load balancer's idle timeout (60 s on AWS) so it never reuses a closed socket;
    // a slow-loris request is cut after 30 s.
    keepAliveTimeout: 65_000,
    requestTimeout: 30_000,
    // Node's default (60 s) exceeds requestTimeout, so headers were only bounded by it. A load
    // balancer forwards a request once it has its headers, so they arrive at once; 10 s cuts a
    // client trickling them in directly. It starts with a request's first byte, never while a
    // kept-alive socket idles (that is keepAliveTimeout's), so the 65 s above still holds.
    http: { headersTimeout: 10_000 },
    // No socket inactivity timeout (Fastify's default, made explicit): idle sockets end at
    // keepAliveTimeout and slow uploads at requestTimeout; a slow answer of ours must reach the
    // client as a response (503 when overloaded or a backend hangs), never as a cut connection.
    connectionTimeout: 0,
    ajv: {
      customOptions: {
        // Fastify's defaults would silently drop unknown fields and coerce "1" to 1; the
        // contract rejects both, and clients should see every problem at once.
        removeAdditional: false,
        coerceTypes: false,
        allErrors: true,
        useDefaults: false,
      },
    },
    // Errors Fastify raises before routing (e.g. a malformed URL) skip the error handler.
    frameworkErrors: (error, request, reply) => {
      void reply.header('x-request-id', request.id);
      sendError(request, reply, error);
    },
  });

  app.decorateRequest('brand', null);
  app.decorateRequest('keyKind', null);
  installJsonParser(app);
  installErrorHandling(app, options.onRejected);

  // Callback hooks, not async ones: each runs on every request, and a promise per hook shows in
  // the ingest's profile. The histogram's children are kept per label set (no label hashing).
  const securityHeaders = securityHeadersOf();
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(securityHeaders).header('x-request-id', request.id);
    done();
  });
  const durations = new Map<string, Observer>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let observer = durations.get(key);
    if (!observer) {
      observer = metrics.httpDuration.labels({ method: request.method, route, status_code: String(reply.statusCode) });
      // Bounded: methods × routes × status codes, all from closed sets (unmatched paths share one).
      durations.set(key, observer);
    }
    observer.observe(reply.elapsedTime / 1000);
    done();
  });
  return app;
}
