import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { pino } from 'pino';
import { LimiterBudgets } from '../adapters/memory/request-budgets.js';
import { createMetrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import { DOCUMENT_OPTIONS } from './openapi.js';
import { registerOpsRoutes } from './ops-app.js';
import { registerPublicRoutes } from './public-app.js';

/**
 * The committed `openapi.json`: the routes of both listeners (the admin API on), described by
 * their own schemas, gathered in one app built without a store, queue or config file, as
 * nothing is called to describe routes. `npm run openapi` writes it;
 * test/integration/openapi.test.ts fails when it drifts.
 */

/** Any call fails: generating the document never reaches a backend. */
function unreachable<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, property) =>
      // Not a thenable, so awaiting the object itself does not hang.
      property === 'then' ? undefined : () => Promise.reject(new Error(`${name} is not available while generating openapi.json`)),
  });
}

export async function generateOpenApiDocument(): Promise<Record<string, unknown>> {
  const app = Fastify({ logger: false });
  await app.register(swagger, DOCUMENT_OPTIONS);
  const metrics = createMetrics();
  const config = { brands: [], destinations: [], routes: [] };
  const notCalled = () => Promise.reject(new Error('not called while generating openapi.json'));
  const budgets = new LimiterBudgets();
  registerPublicRoutes(app, {
    config,
    metrics,
    accept: notCalled,
    budgets,
    unknownKeyPerMinute: 1,
    readiness: notCalled,
    isDraining: () => false,
  });
  await registerOpsRoutes(app, {
    config,
    store: unreachable<LeadStore>('store'),
    queue: unreachable<JobQueue>('queue'),
    queueBackend: 'none',
    metrics,
    logger: pino({ level: 'silent' }),
    readiness: notCalled,
    budgets,
    adminToken: 'openapi-document-generation-token',
    privacy: {
      config,
      store: unreachable<LeadStore>('store'),
      hasher: { hash: () => '' },
      logger: pino({ level: 'silent' }),
      now: Date.now,
    },
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The committed file's exact text. */
export const formatOpenApiDocument = (document: unknown): string => `${JSON.stringify(document, null, 2)}\n`;
