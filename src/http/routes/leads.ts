import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BrandConfig, LeadgateConfig } from '../../domain/config.js';
import type { LeadInput } from '../../domain/lead.js';
import { createLeadAcceptor } from '../../ingest/accept-lead.js';
import type { Metrics } from '../../observability/metrics.js';
import type { JobQueue } from '../../ports/job-queue.js';
import type { LeadStore } from '../../ports/lead-store.js';
import { presentedKey } from '../auth.js';
import { HttpError, unavailable } from '../http-error.js';
import { TOKEN_PATTERN } from '../schemas/common.js';
import { leadBodySchema } from '../schemas/lead.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The brand the API key named; set by the auth hook of `POST /v1/leads`. */
    brand: BrandConfig | null;
  }
}

export const LEADS_ROUTE = '/v1/leads';

const MAX_IDEMPOTENCY_KEY = 255;

export interface LeadsRouteDeps {
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  isDraining: () => boolean;
  now: () => number;
  resolveKey: (key: string) => BrandConfig | null;
}

interface Accepted {
  id: string;
  status: 'accepted';
}

export function registerLeadsRoute(app: FastifyInstance, deps: LeadsRouteDeps): void {
  const rejectWhileDraining = async (): Promise<void> => {
    if (deps.isDraining()) throw unavailable();
  };

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const key = presentedKey(request);
    const brand = key === null ? null : deps.resolveKey(key);
    if (brand === null) throw new HttpError(401, 'unauthorized', 'Missing or unknown API key');
    request.brand = brand;
    // No Origin: a server-to-server call (PHP back end), which CORS does not concern.
    const origin = request.headers.origin;
    if (origin !== undefined && !brand.allowedOrigins.includes(origin)) {
      throw new HttpError(403, 'origin_not_allowed', 'This origin may not submit leads for this brand');
    }
  };

  const requireBody = async (request: FastifyRequest): Promise<void> => {
    if (request.body === undefined) throw new HttpError(400, 'invalid_json', 'Request body is empty');
  };

  const checkIdempotencyKey = async (request: FastifyRequest): Promise<void> => {
    const key = request.headers['idempotency-key'];
    if (key === undefined) return;
    if (typeof key !== 'string' || key.length > MAX_IDEMPOTENCY_KEY || !TOKEN_PATTERN.test(key)) {
      throw new HttpError(400, 'validation_failed', 'Request is invalid', [
        { path: '/headers/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
  };

  const accept = createLeadAcceptor({ config: deps.config, store: deps.store, queue: deps.queue, metrics: deps.metrics, now: deps.now });

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<Accepted> => {
    const key = request.headers['idempotency-key'];
    const result = await accept({
      brand: request.brand as BrandConfig,
      body: request.body as LeadInput,
      idempotency:
        typeof key === 'string' ? { key, bodyHash: hash('sha256', request.rawBody ?? Buffer.alloc(0), 'hex') } : null,
      log: request.log,
    });
    switch (result.kind) {
      case 'created':
        break;
      case 'replayed':
        void reply.header('idempotent-replayed', 'true');
        break;
      case 'invalid':
        throw new HttpError(400, 'validation_failed', 'Request is invalid', result.issues);
      case 'in_flight':
        throw new HttpError(409, 'idempotency_in_flight', 'A request with this Idempotency-Key is still being processed');
      case 'key_reused':
        throw new HttpError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different body');
      case 'unavailable':
        throw unavailable();
    }
    void reply.header('location', `${LEADS_ROUTE}/${result.leadId}`);
    return { id: result.leadId, status: 'accepted' };
  };

  app.post(LEADS_ROUTE, {
    schema: { body: leadBodySchema },
    config: {
      // Per brand, after auth (the plugin appends its hook after ours): an unauthenticated
      // flood is turned away by the key check and cannot eat a brand's budget.
      rateLimit: {
        hook: 'onRequest',
        timeWindow: 60_000,
        keyGenerator: (request: FastifyRequest) => `brand:${request.brand?.id ?? 'unknown'}`,
        allowList: (request: FastifyRequest) => (request.brand?.rateLimitPerMinute ?? null) === null,
        max: (request: FastifyRequest) => request.brand?.rateLimitPerMinute ?? 0,
      },
    },
    onRequest: [rejectWhileDraining, authenticate],
    preValidation: [requireBody, checkIdempotencyKey],
    handler: async (request, reply) => {
      const body = await handle(request, reply);
      return reply.code(202).send(body);
    },
  });
}
