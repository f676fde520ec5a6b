import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const EMBED_ROUTE = '/v1/embed.js';

/** The built script (scripts/post-build.mjs): dist/embed.js, found from src/ (tests) and dist/ alike. */
export function embedScriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'embed.js');
}

interface Representation {
  body: Buffer;
  etag: string;
}

/**
 * Brand pages load it with `<script src integrity crossorigin="anonymous">`: SRI needs the
 * response readable cross-origin (CORS `*`, no credentials) and CORP must allow embedding from
 * other sites (helmet's default is same-origin). Five minutes of caching lets a fix reach every
 * page soon; the ETag makes revalidation a 304.
 */
const FIXED_HEADERS = {
  'content-type': 'application/javascript; charset=utf-8',
  'cache-control': 'public, max-age=300',
  'access-control-allow-origin': '*',
  'cross-origin-resource-policy': 'cross-origin',
  vary: 'Accept-Encoding',
};

/** True when If-None-Match names this ETag (weak or strong) or is `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

const schema = {
  tags: ['ingest'],
  summary: 'The browser embed script',
  description:
    'A dependency-free script (ES2019, under 5 KB gzipped) that turns `<form data-leadgate-key data-leadgate-service>` ' +
    'into a lead form posting to `POST /v1/leads` (docs/brand-sites.md). Cacheable for 5 minutes, with an `ETag` ' +
    '(`If-None-Match` gets 304), gzip when accepted, readable from any origin so pages can pin it with SRI.',
  response: {
    200: {
      description: 'The script',
      content: { 'application/javascript': { schema: { type: 'string' } } },
      headers: {
        ETag: { type: 'string' },
        'Cache-Control': { type: 'string', enum: ['public, max-age=300'] },
      },
    },
    304: { description: 'Not modified: the cached copy named by `If-None-Match` is current', type: 'null' },
  },
};

/**
 * `GET /v1/embed.js` on the public listener. The file is read once, at registration; without a
 * build (no dist/embed.js) the route answers 404 and says so in the log.
 */
export function registerEmbedRoute(app: FastifyInstance, path: string = embedScriptPath()): void {
  let plain: Representation | null = null;
  let gzipped: Representation | null = null;
  if (existsSync(path)) {
    const body = readFileSync(path);
    const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27);
    plain = { body, etag: `"${digest}"` };
    gzipped = { body: gzipSync(body, { level: 9 }), etag: `"${digest}-gz"` };
  } else {
    app.log.warn({ path }, 'browser embed not built; GET /v1/embed.js answers 404');
  }

  app.get(EMBED_ROUTE, { schema }, async (request: FastifyRequest, reply: FastifyReply) => {
    if (plain === null || gzipped === null) return reply.callNotFound();
    const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    const chosen = acceptsGzip ? gzipped : plain;
    void reply.headers(FIXED_HEADERS).header('etag', chosen.etag);
    if (acceptsGzip) void reply.header('content-encoding', 'gzip');
    if (matches(request.headers['if-none-match'], chosen.etag)) return reply.code(304).send();
    return reply.send(chosen.body);
  });
}
