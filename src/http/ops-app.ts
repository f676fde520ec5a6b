import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LeadgateConfig } from '../domain/config.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import type { RequestBudgets } from '../ports/request-budgets.js';
import { consoleRoutes } from './console/plugin.js';
import { consolePrivacyOf } from './console/privacy-adapter.js';
import type { PrivacyDeps } from '../privacy/requests.js';
import { readCommittedDocument, serveOpenApi } from './openapi.js';
import { adminRoutes } from './routes/admin.js';
import { registerDemoCrmRoutes } from './routes/demo-crm.js';
import type { BreakerStateName } from './routes/destinations.js';
import { registerHealthRoutes, registerMetricsRoute, type Readiness } from './routes/health.js';
import { createServerBase } from './server-base.js';
import { createStoreGaugeRefresher } from './store-gauges.js';

export interface OpsRoutesDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  /** `sqlite`, `bullmq` or `sqs`: labels the queue-depth gauge. */
  queueBackend: string;
  metrics: Metrics;
  logger: Logger;
  readiness: () => Promise<Readiness>;
  /** Failed admin sign-ins are counted per client IP here. */
  budgets: RequestBudgets;
  /** Bearer token of the admin API; null leaves the admin routes unregistered. */
  adminToken: string | null;
  /** Serve the built-in demo CRM at /demo/crm/leads (`leadgate serve --demo` on the bundled example). */
  demoCrm?: boolean;
  /** Circuit breaker state of a destination in this process's worker; absent without a worker. */
  breakerState?: (destinationId: string) => BreakerStateName;
  /** The worker's metrics when it keeps them in its own registry (serve's worker thread): merged in at each scrape. */
  workerMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  /** The privacy use cases (export, erasure) behind the admin token; absent leaves their routes out. */
  privacy?: PrivacyDeps;
  /** An erasure was recorded: wake this process's erasure runner, if it has a worker. */
  onErasureRequested?: () => void;
  now?: () => number;
}

export interface OpsAppDeps extends OpsRoutesDeps {
  /** The OpenAPI document served at /openapi.json; defaults to the committed openapi.json. */
  openApiDocument?: Record<string, unknown>;
  /** Proxies in front of the ops listener to believe for X-Forwarded-For/-Proto (LEADGATE_OPS_TRUST_PROXY). */
  trustProxy?: number | string[];
}

/**
 * The ops listener (LEADGATE_OPS_PORT, 127.0.0.1 by default) of every process: metrics, health,
 * the admin API, the console, the OpenAPI docs and, in demo mode, the demo CRM. Never behind
 * the public load balancer. Never listens.
 */
export async function buildOpsApp(deps: OpsAppDeps): Promise<FastifyInstance> {
  const app = createServerBase({ logger: deps.logger, metrics: deps.metrics, trustProxy: deps.trustProxy });
  await serveOpenApi(app, deps.openApiDocument ?? readCommittedDocument());
  // Health on both listeners: the load balancer reads the public one, Prometheus and ops this one.
  registerHealthRoutes(app, deps.readiness);
  await registerOpsRoutes(app, deps);
  // The console is HTML for people, not part of the JSON API's OpenAPI document: registered here.
  if (deps.adminToken !== null && deps.adminToken !== '') {
    await app.register(consoleRoutes, {
      adminToken: deps.adminToken,
      config: deps.config,
      store: deps.store,
      queue: deps.queue,
      metrics: deps.metrics,
      budgets: deps.budgets,
      breakerState: deps.breakerState,
      now: deps.now ?? Date.now,
      // With the privacy use cases: the person search and the Privacy screen (export, erase).
      ...(deps.privacy ? consolePrivacyOf(deps.privacy, deps.onErasureRequested) : {}),
    });
  }
  return app;
}

/** The ops-only routes; also used to generate the OpenAPI document (openapi-document.ts). */
export async function registerOpsRoutes(app: FastifyInstance, deps: OpsRoutesDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  registerMetricsRoute(app, {
    metrics: deps.metrics,
    readiness: deps.readiness,
    refreshStoreGauges: createStoreGaugeRefresher({ ...deps, now }),
    workerMetrics: deps.workerMetrics,
  });
  if (deps.adminToken !== null && deps.adminToken !== '') {
    await app.register(adminRoutes, {
      adminToken: deps.adminToken,
      store: deps.store,
      queue: deps.queue,
      now,
      config: deps.config,
      breakerState: deps.breakerState,
      budgets: deps.budgets,
      metrics: deps.metrics,
      privacy: deps.privacy,
      onErasureRequested: deps.onErasureRequested,
    });
  }
  if (deps.demoCrm === true) registerDemoCrmRoutes(app, now);
}
