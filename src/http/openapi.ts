import { existsSync, readFileSync } from 'node:fs';
import swagger, { type SwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI 3.1 document is generated from the routes' own schemas (summary, tags, request
 * and response schemas live beside each route) by openapi-document.ts, committed as
 * `openapi.json` (`npm run openapi`; test/integration/openapi.test.ts fails when it drifts),
 * and served on the ops listener at `/openapi.json` with the UI at `/docs`.
 */

export const OPENAPI_ROUTE = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/** Built: dist/openapi.json (copied by scripts/post-build.mjs); from sources (tests): the repository's. */
const DOCUMENT_PATHS = [new URL('../openapi.json', import.meta.url), new URL('../../openapi.json', import.meta.url)];

export const version = (): string => {
  try {
    // The same relative path works from src/http/ and dist/http/.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
};

/** What the document says about itself; the paths come from the routes. */
export const DOCUMENT_OPTIONS: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'leadgate',
      version: version(),
      description:
        'Lead-ingestion middleware: brand websites post leads, leadgate stores them durably and forwards ' +
        'them to CRMs. Errors are `{"error": "<code>", "message": "...", "details": [...]}`. Ingest and health are ' +
        'on the public listener (PORT); admin, metrics and these docs on the ops listener (LEADGATE_OPS_PORT).',
    },
    tags: [
      { name: 'ingest', description: 'Brand websites and back ends (public listener)' },
      { name: 'admin', description: 'Ops (Authorization: Bearer $LEADGATE_ADMIN_TOKEN; ops listener); off without a token' },
      { name: 'health', description: 'Load balancer (public listener) and Prometheus (ops listener)' },
    ],
    components: {
      securitySchemes: {
        brandKeyBearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <brand key>' },
        brandKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'X-Api-Key: <brand key>' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'LEADGATE_ADMIN_TOKEN' },
      },
    },
  },
};

/** Serves a finished document at /openapi.json and the UI at /docs (ops listener). */
export async function serveOpenApi(app: FastifyInstance, document: Record<string, unknown>): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // The app's CSP ("load nothing") would blank the UI: its pages get one allowing their own
    // scripts and styles, without upgrade-insecure-requests (plain http on a laptop).
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    uiConfig: { deepLinking: false },
  });
  app.get(OPENAPI_ROUTE, { schema: { hide: true } }, async () => document);
}

/** The committed document, read once at start. */
export function readCommittedDocument(): Record<string, unknown> {
  const path = DOCUMENT_PATHS.find((candidate) => existsSync(candidate));
  if (path === undefined) throw new Error('openapi.json is missing from the build (scripts/post-build.mjs copies it into dist/)');
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}
