import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newId } from '../../domain/ids.js';
import type { BrandConfig, LeadgateConfig } from '../../domain/config.js';
import type { NewDelivery } from '../../domain/delivery.js';
import type { Lead, LeadInput } from '../../domain/lead.js';
import { normaliseLead } from '../../domain/normalise.js';
import { leadFingerprints } from '../../domain/fingerprint.js';
import { routeLead } from '../../domain/routing.js';
import type { Metrics } from '../../observability/metrics.js';
import type { JobQueue } from '../../ports/job-queue.js';
import type { IngestCommand, IngestResult, LeadStore } from '../../ports/lead-store.js';
import { presentedKey } from '../auth.js';
import { errorSummary } from '../../observability/error-summary.js';
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

/** How long an Idempotency-Key holds (CONTRACT: "within 24 h"). */
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
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
  const { store, queue, metrics, now } = deps;

  const rejectWhileDraining = async (): Promise<void> => {
    if (deps.isDraining()) throw unavailable();
  };

  // After a failed enqueue the queue is suspect: rather than keep accepting leads that only
  // the sweeper would announce, check it before persisting and answer 503 while it is down.
  // Healthy, this costs nothing; a lead persisted before the failure is still answered 202.
  let queueSuspect = false;
  const ensureQueueReachable = async (request: FastifyRequest): Promise<void> => {
    if (!queueSuspect) return;
    try {
      await queue.ping();
      queueSuspect = false;
    } catch (err) {
      request.log.warn({ err: errorSummary(err) }, 'queue unavailable');
      throw unavailable();
    }
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

  // Looked up before routing, because a route's forward_duplicates decides the deliveries; the
  // race this leaves between two simultaneous duplicates is described at LeadStore.findDuplicate.
  const findDuplicate = async (request: FastifyRequest, fingerprints: string[], since: number): Promise<string | null> => {
    if (fingerprints.length === 0) return null;
    try {
      return await store.findDuplicate(fingerprints, since);
    } catch (err) {
      request.log.warn({ err: errorSummary(err) }, 'store unavailable');
      throw unavailable();
    }
  };

  const accept = async (request: FastifyRequest, reply: FastifyReply): Promise<Accepted> => {
    const brand = request.brand as BrandConfig;
    const normalised = normaliseLead(request.body as LeadInput, brand.defaultCountry);
    if (!normalised.ok) throw new HttpError(400, 'validation_failed', 'Request is invalid', normalised.issues);

    const receivedAt = now();
    const window = brand.duplicateWindowMs;
    const fingerprints = window === null ? [] : leadFingerprints(brand.id, normalised.lead);
    const duplicateOf = await findDuplicate(request, fingerprints, receivedAt - (window ?? 0));
    const destinations = routeLead(deps.config.routes, brand.id, normalised.lead, { duplicate: duplicateOf !== null });
    const lead: Lead = {
      id: newId(),
      brand: brand.id,
      received_at: new Date(receivedAt).toISOString(),
      status: destinations.length > 0 ? 'routed' : 'unrouted',
      ...normalised.lead,
      ...(duplicateOf !== null ? { duplicate_of: duplicateOf } : {}),
    };
    const deliveries: NewDelivery[] = destinations.map((destination) => ({ id: newId(), destination }));
    const command: IngestCommand = { lead, deliveries };
    if (window !== null && fingerprints.length > 0) {
      command.fingerprints = { values: fingerprints, expiresAt: receivedAt + window };
    }
    const key = request.headers['idempotency-key'];
    if (typeof key === 'string') {
      const bodyHash = createHash('sha256').update(request.rawBody ?? Buffer.alloc(0)).digest('hex');
      command.idempotency = { key, bodyHash, expiresAt: receivedAt + IDEMPOTENCY_TTL_MS };
    }

    await ensureQueueReachable(request);
    let result: IngestResult;
    try {
      result = await store.ingest(command);
    } catch (err) {
      request.log.warn({ err: errorSummary(err) }, 'store unavailable');
      throw unavailable();
    }

    switch (result.kind) {
      case 'created':
        break;
      case 'replayed':
        void reply.header('idempotent-replayed', 'true');
        void reply.header('location', `${LEADS_ROUTE}/${result.leadId}`);
        return { id: result.leadId, status: 'accepted' };
      case 'in_flight':
        throw new HttpError(409, 'idempotency_in_flight', 'A request with this Idempotency-Key is still being processed');
      case 'key_reused':
        throw new HttpError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different body');
    }

    // Only now is the lead durable; the queue is a hint, the sweeper covers a failed enqueue.
    if (deliveries.length > 0) {
      try {
        await queue.enqueue(deliveries.map((d) => ({ deliveryId: d.id, runAt: receivedAt })));
      } catch (err) {
        queueSuspect = true;
        request.log.warn({ err: errorSummary(err), leadId: result.leadId }, 'enqueue failed, sweeper will pick up');
      }
    }
    metrics.leadsAccepted.inc({ brand: brand.id });
    if (deliveries.length === 0) metrics.leadsUnrouted.inc({ brand: brand.id });
    if (duplicateOf !== null) metrics.leadsDuplicate.inc({ brand: brand.id });
    request.log.info(
      {
        leadId: result.leadId,
        brand: brand.id,
        deliveries: deliveries.length,
        unrouted: deliveries.length === 0,
        duplicateOf: duplicateOf ?? undefined,
      },
      'lead accepted',
    );
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
      const body = await accept(request, reply);
      return reply.code(202).send(body);
    },
  });
}
