import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LeadgateConfig } from '../domain/config.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import { createKeyResolver } from './auth.js';
import { installErrorHandling, sendError } from './error-handler.js';
import { HttpError } from './http-error.js';
import { JSON_BODY_LIMIT, installJsonParser } from './json-body.js';
import { adminRoutes } from './routes/admin.js';
import { registerDemoCrmRoutes } from './routes/demo-crm.js';
import { registerHealthRoutes } from './routes/health.js';
import { LEADS_ROUTE, registerLeadsRoute } from './routes/leads.js';
import { registerOpenApi } from './openapi.js';
import { registerOverloadProtection, type OverloadOptions } from './overload.js';
import { createStoreGaugeRefresher } from './store-gauges.js';
import { installSecurityHeaders } from './security-headers.js';

export interface AppDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  logger: Logger;
  /** Bearer token of the admin API; null leaves the admin routes unregistered. */
  adminToken: string | null;
  /** True once SIGTERM was received: readiness and ingest answer 503. */
  isDraining: () => boolean;
  /** How long /health/ready waits for each backend (default 1 s). */
  readyCheckTimeoutMs?: number;
  /** `sqlite`, `bullmq` or `sqs`: labels the queue-depth gauge. */
  queueBackend?: string;
  /** Serve the built-in demo CRM at /demo/crm/leads (the bundled example config posts to it). */
  demoCrm?: boolean;
  now?: () => number;
  /** Circuit breaker state of a destination in this process's worker (GET /v1/destinations); absent without a worker. */
  breakerState?: (destinationId: string) => 'closed' | 'half_open' | 'open';
  /** Load shedding thresholds (src/http/overload.ts); each has a default. */
  overload?: OverloadOptions;
}

/** A client's request id is echoed only when it cannot forge log lines or bloat them. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Builds the HTTP app; never listens (the entry point does, so tests can inject or bind to
 * port 0). All routes share one strict JSON parser and one error handler.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const { config, metrics } = deps;

  const app = Fastify({
    // Typed as the base logger so routes take a plain FastifyInstance (pino satisfies it).
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One `lead accepted` line per lead replaces the two per request, which cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestId,
    bodyLimit: JSON_BODY_LIMIT,
    return503OnClosing: true,
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
  installJsonParser(app);
  installErrorHandling(app, (request, code) => {
    if (request.method === 'POST' && request.routeOptions.url === LEADS_ROUTE) {
      metrics.leadsRejected.inc({ brand: request.brand?.id ?? 'unknown', reason: code });
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  installSecurityHeaders(app);

  // CORS concerns the ingest endpoint only: every other route (the plugin's catch-all OPTIONS
  // route included, and the 404 handler: error-handler.ts) opts out, so a preflight elsewhere
  // is a plain 404. Options are static, so the
  // plugin normalises them once (a per-request delegator cost ~4 % of the ingest path).
  // Preflights carry no credentials, so they are answered for every brand's origins; the POST
  // itself then checks the origin against the brand its key names.
  app.addHook('onRoute', (route) => {
    // (`config.cors = false` is how @fastify/cors lets a route opt out; its types omit it.)
    if (route.url !== LEADS_ROUTE) route.config = { ...route.config, cors: false } as typeof route.config;
  });
  await app.register(cors, corsOptions([...new Set(config.brands.flatMap((b) => b.allowedOrigins))]));
  // The plugin answers a preflight in its hook; this route only makes OPTIONS /v1/leads exist.
  app.options(LEADS_ROUTE, { schema: { hide: true } }, (_request, reply) => reply.callNotFound());

  // After the security headers and CORS, so a shed request's 503 still carries them.
  await registerOverloadProtection(app, deps.overload, {
    exempt: ['/health/live', '/metrics'],
    readiness: '/health/ready',
  });
  // Before any route: the document is collected as routes are added.
  await registerOpenApi(app);

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => new HttpError(429, 'rate_limited', 'Too many requests, retry later'),
  });

  registerLeadsRoute(app, {
    config,
    store: deps.store,
    queue: deps.queue,
    metrics,
    isDraining: deps.isDraining,
    now,
    resolveKey: createKeyResolver(config.brands),
  });
  registerHealthRoutes(app, {
    store: deps.store,
    queue: deps.queue,
    metrics,
    isDraining: deps.isDraining,
    readyCheckTimeoutMs: deps.readyCheckTimeoutMs,
    refreshStoreGauges: createStoreGaugeRefresher({
      config,
      store: deps.store,
      queue: deps.queue,
      queueBackend: deps.queueBackend ?? 'unknown',
      metrics,
      now,
      logger: deps.logger,
    }),
  });
  const adminToken = deps.adminToken;
  if (adminToken !== null && adminToken !== '') {
    await app.register(adminRoutes, {
      adminToken,
      store: deps.store,
      queue: deps.queue,
      now,
      config,
      breakerState: deps.breakerState,
    });
  }
  if (deps.demoCrm === true) registerDemoCrmRoutes(app, now);
  return app;
}

function corsOptions(origins: string[]) {
  return {
    origin: origins.length > 0 ? origins : false,
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Api-Key', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: ['Location', 'Idempotent-Replayed', 'Retry-After', 'X-Request-Id'],
    maxAge: 600,
    // Fastify answers malformed preflights itself with JSON errors; the plugin's strict mode
    // would answer text/plain.
    strictPreflight: false,
  };
}
