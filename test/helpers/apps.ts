import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { LimiterBudgets } from '../../src/adapters/memory/request-budgets.js';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { buildOpsApp } from '../../src/http/ops-app.js';
import type { OverloadOptions } from '../../src/http/overload.js';
import { buildPublicApp } from '../../src/http/public-app.js';
import type { BreakerStateName } from '../../src/http/routes/destinations.js';
import { createReadinessCheck } from '../../src/http/routes/health.js';
import { createLeadAcceptor } from '../../src/ingest/accept-lead.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { CaptchaVerifier } from '../../src/ports/captcha-verifier.js';
import type { JobQueue } from '../../src/ports/job-queue.js';
import type { LeadStore } from '../../src/ports/lead-store.js';
import type { RequestBudgets } from '../../src/ports/request-budgets.js';
import type { PrivacyHasher } from '../../src/domain/fingerprint.js';
import { testHasher } from './privacy.js';

/** The two listeners of a process, wired as src/cli/serve.ts wires them, over test doubles or real adapters. */
export interface TestAppDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics?: Metrics;
  logger?: Logger;
  adminToken?: string | null;
  isDraining?: () => boolean;
  now?: () => number;
  demoCrm?: boolean;
  breakerState?: (id: string) => BreakerStateName;
  overload?: OverloadOptions;
  captcha?: CaptchaVerifier;
  budgets?: RequestBudgets;
  trustProxy?: number | string[];
  unknownKeyPerMinute?: number;
  opsTrustProxy?: number | string[];
  /** Defaults to the tests' privacy key. */
  hasher?: PrivacyHasher;
  /** Wakes an erasure runner when the admin API records an erasure. */
  onErasureRequested?: () => void;
}

/** Brands without a captcha never call it; one that does gets a verifier passed in. */
const NO_CAPTCHA: CaptchaVerifier = {
  verify: () => Promise.reject(new Error('no captcha verifier in this test')),
  close: async () => {},
};

function common(deps: TestAppDeps) {
  const isDraining = deps.isDraining ?? (() => false);
  return {
    metrics: deps.metrics ?? createMetrics(),
    logger: deps.logger ?? pino({ level: 'silent' }),
    isDraining,
    readiness: createReadinessCheck({ store: deps.store, queue: deps.queue, isDraining }),
    budgets: deps.budgets ?? new LimiterBudgets(),
    now: deps.now ?? Date.now,
  };
}

export function buildTestPublicApp(deps: TestAppDeps): Promise<FastifyInstance> {
  const c = common(deps);
  return buildPublicApp({
    config: deps.config,
    metrics: c.metrics,
    logger: c.logger,
    readiness: c.readiness,
    isDraining: c.isDraining,
    budgets: c.budgets,
    unknownKeyPerMinute: deps.unknownKeyPerMinute ?? 1_000,
    trustProxy: deps.trustProxy,
    // No shedding on event-loop lag unless a test asks: a busy machine must not turn leads into 503s.
    overload: deps.overload ?? { maxEventLoopDelayMs: 0 },
    accept: createLeadAcceptor({
      config: deps.config,
      store: deps.store,
      queue: deps.queue,
      metrics: c.metrics,
      captcha: deps.captcha ?? NO_CAPTCHA,
      hasher: deps.hasher ?? testHasher,
      now: c.now,
    }),
  });
}

export function buildTestOpsApp(deps: TestAppDeps): Promise<FastifyInstance> {
  const c = common(deps);
  return buildOpsApp({
    config: deps.config,
    store: deps.store,
    queue: deps.queue,
    queueBackend: 'test',
    metrics: c.metrics,
    logger: c.logger,
    readiness: c.readiness,
    budgets: c.budgets,
    adminToken: deps.adminToken ?? null,
    demoCrm: deps.demoCrm,
    breakerState: deps.breakerState,
    privacy: { config: deps.config, store: deps.store, hasher: deps.hasher ?? testHasher, logger: c.logger, now: c.now },
    onErasureRequested: deps.onErasureRequested,
    now: c.now,
    trustProxy: deps.opsTrustProxy,
  });
}

/** Both listeners over the same store, queue, metrics and budgets. */
export async function buildTestApps(deps: TestAppDeps): Promise<{ publicApp: FastifyInstance; opsApp: FastifyInstance; metrics: Metrics }> {
  const shared = { ...deps, metrics: deps.metrics ?? createMetrics(), budgets: deps.budgets ?? new LimiterBudgets() };
  return { publicApp: await buildTestPublicApp(shared), opsApp: await buildTestOpsApp(shared), metrics: shared.metrics };
}
