import { pino } from 'pino';
import { createMetrics } from '../observability/metrics.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import { buildApp } from './app.js';

/**
 * The committed `openapi.json`: the document of an app with every optional route on (the admin
 * API), built without a store, queue or config file, as nothing is called to describe routes.
 * `npm run openapi` writes it; test/integration/openapi.test.ts fails when it drifts.
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
  const app = await buildApp({
    config: { brands: [], destinations: [], routes: [] },
    store: unreachable<LeadStore>('store'),
    queue: unreachable<JobQueue>('queue'),
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    adminToken: 'openapi',
    isDraining: () => false,
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
