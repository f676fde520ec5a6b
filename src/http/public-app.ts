import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { LeadgateConfig } from '../domain/config.js';
import type { AcceptResult, LeadSubmission } from '../ingest/accept-lead.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestBudgets } from '../ports/request-budgets.js';
import { createKeyResolver } from './auth.js';
import { createIngestGuard } from './ingest-guard.js';
import { registerOverloadProtection, type OverloadOptions } from './overload.js';
import { registerEmbedRoute } from './routes/embed.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { LEADS_ROUTE, registerLeadsRoute } from './routes/leads.js';
import { createServerBase, type ServerBaseOptions } from './server-base.js';

export interface PublicRoutesDeps {
  config: LeadgateConfig;
  metrics: Metrics;
  accept: (submission: LeadSubmission) => Promise<AcceptResult>;
  budgets: RequestBudgets;
  /** Per client IP: requests per minute with a missing or unknown key. */
  unknownKeyPerMinute: number;
  readiness: () => Promise<Readiness>;
  /** True once SIGTERM was received: readiness and ingest answer 503. */
  isDraining: () => boolean;
}

export interface PublicAppDeps extends PublicRoutesDeps, Pick<ServerBaseOptions, 'logger' | 'trustProxy'> {
  /** Load shedding thresholds (src/http/overload.ts); each has a default. */
  overload?: OverloadOptions;
}

/**
 * The public listener (PORT), the only one a load balancer reaches: ingest with its CORS
 * preflight, the browser embed script, and health. Everything else is 404. Never listens.
 */
export async function buildPublicApp(deps: PublicAppDeps): Promise<FastifyInstance> {
  const { config, metrics } = deps;
  const app = createServerBase({
    logger: deps.logger,
    metrics,
    trustProxy: deps.trustProxy,
    onRejected: (request, code) => {
      if (request.method === 'POST' && request.routeOptions.url === LEADS_ROUTE) {
        metrics.leadsRejected.inc({ brand: request.brand?.id ?? 'unknown', reason: code });
      }
    },
  });

  // CORS concerns the ingest endpoint only: every other route (the plugin's catch-all OPTIONS
  // route included, and the 404 handler: error-handler.ts) opts out, so a preflight elsewhere
  // is a plain 404. Options are static, so the plugin normalises them once (a per-request
  // delegator cost ~4 % of the ingest path). Preflights carry no credentials, so they are
  // answered for every brand's origins; the POST itself then checks the origin against the
  // brand its key names.
  app.addHook('onRoute', (route) => {
    // (`config.cors = false` is how @fastify/cors lets a route opt out; its types omit it.)
    if (route.url !== LEADS_ROUTE) route.config = { ...route.config, cors: false } as typeof route.config;
  });
  await app.register(cors, corsOptions([...new Set(config.brands.flatMap((b) => b.allowedOrigins))]));
  // The plugin answers a preflight in its hook; this route only makes OPTIONS /v1/leads exist.
  app.options(LEADS_ROUTE, { schema: { hide: true } }, (_request, reply) => reply.callNotFound());

  // After the security headers and CORS, so a shed request's 503 still carries them.
  await registerOverloadProtection(app, deps.overload, { exempt: ['/health/live'], readiness: '/health/ready' });
  registerPublicRoutes(app, deps);
  return app;
}

/** The public routes; also used to generate the OpenAPI document (openapi-document.ts). */
export function registerPublicRoutes(app: FastifyInstance, deps: PublicRoutesDeps): void {
  registerLeadsRoute(app, {
    accept: deps.accept,
    budgets: deps.budgets,
    isDraining: deps.isDraining,
    guard: createIngestGuard({
      resolveKey: createKeyResolver(deps.config.brands),
      budgets: deps.budgets,
      unknownKeyPerMinute: deps.unknownKeyPerMinute,
      metrics: deps.metrics,
    }),
  });
  // Not under the ingest CORS: the script is public and sets `Access-Control-Allow-Origin: *` itself.
  registerEmbedRoute(app);
  registerHealthRoutes(app, deps.readiness);
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
