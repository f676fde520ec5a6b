import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { BrandConfig } from '../../domain/config.js';
import type { LeadInput } from '../../domain/lead.js';
import type { AcceptResult, LeadSubmission } from '../../ingest/accept-lead.js';
import type { RequestBudgets } from '../../ports/request-budgets.js';
import { HttpError, unavailable } from '../http-error.js';
import { TOKEN_PATTERN } from '../schemas/common.js';
import { LEAD_EXAMPLE } from '../schemas/lead-example.js';
import { leadBodySchema } from '../schemas/lead.js';
import { errors, open } from '../schemas/responses.js';

export const LEADS_ROUTE = '/v1/leads';

const MAX_IDEMPOTENCY_KEY = 255;

export interface LeadsRouteDeps {
  accept: (submission: LeadSubmission) => Promise<AcceptResult>;
  /** Keys, origins and per-IP budgets (src/http/ingest-guard.ts). */
  guard: (request: FastifyRequest) => Promise<void>;
  budgets: RequestBudgets;
  isDraining: () => boolean;
}

interface Accepted {
  id: string;
  status: 'accepted';
}

const schema: FastifySchema = {
  tags: ['ingest'],
  summary: 'Submit a lead',
  description:
    'Authenticates the brand by its key (secret from servers, publishable from listed page origins), validates ' +
    'and normalises the lead, and answers 202 once the lead and its deliveries are durable. Unknown fields and ' +
    'control or invisible formatting characters are rejected. A submission caught by the bot traps gets the same 202.',
  security: [{ brandKeyBearer: [] }, { brandKeyHeader: [] }],
  // The route's own hook checks Idempotency-Key before validation runs, so this schema never
  // rejects anything the hook let through; it documents the header.
  headers: {
    type: 'object',
    properties: {
      'idempotency-key': {
        type: 'string',
        minLength: 1,
        maxLength: 255,
        pattern: '^[\\x21-\\x7E]+$',
        description:
          'The same key from the same brand within 24 h returns the first response again with ' +
          '`Idempotent-Replayed: true`; with a different body, 422; while the first is in flight, 409.',
      },
    },
  },
  body: { ...leadBodySchema, examples: [LEAD_EXAMPLE] },
  response: {
    202: open(
      { id: { type: 'string', description: 'The lead id' }, status: { type: 'string', enum: ['accepted'] } },
      {
        description: 'Accepted: the lead and its deliveries are durable',
        required: ['id', 'status'],
        headers: {
          Location: { type: 'string', description: '/v1/leads/<id>' },
          'Idempotent-Replayed': { type: 'string', enum: ['true'], description: 'Set on a replayed response' },
        },
      },
    ),
    ...errors([400, 401, 403, 409, 413, 415, 422, 429, 503], { 400: ['captcha_failed'] }),
  },
};

/** `POST /v1/leads`: maps HTTP to the ingest use case (src/ingest/accept-lead.ts) and back. */
export function registerLeadsRoute(app: FastifyInstance, deps: LeadsRouteDeps): void {
  // Callback hooks (no promise per request): they only look at the request.
  const rejectWhileDraining = (_request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    done(deps.isDraining() ? unavailable() : undefined);
  };

  const checkBody = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    if (request.body === undefined) return done(new HttpError(400, 'invalid_json', 'Request body is empty'));
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || key.length > MAX_IDEMPOTENCY_KEY || !TOKEN_PATTERN.test(key))) {
      return done(
        new HttpError(400, 'validation_failed', 'Request is invalid', [
          { path: '/headers/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
        ]),
      );
    }
    done();
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<Accepted> => {
    const brand = request.brand as BrandConfig;
    const key = request.headers['idempotency-key'];
    const result = await deps.accept({
      brand,
      body: request.body as LeadInput,
      idempotency:
        typeof key === 'string' ? { key, bodyHash: hash('sha256', request.rawBody ?? Buffer.alloc(0), 'hex') } : null,
      client: { keyKind: request.keyKind ?? 'secret', ip: request.ip, userAgent: request.headers['user-agent'] ?? null },
      log: request.log,
    });
    switch (result.kind) {
      case 'created':
        // The brand's budget counts accepted leads only (spam is not the brand's traffic).
        if (!result.spam && brand.rateLimitPerMinute !== null) {
          await deps.budgets.spend(`brand:${brand.id}`, brand.rateLimitPerMinute).catch(() => null);
        }
        break;
      case 'replayed':
        void reply.header('idempotent-replayed', 'true');
        break;
      case 'invalid':
        throw new HttpError(400, 'validation_failed', 'Request is invalid', result.issues);
      case 'captcha_failed':
        throw new HttpError(400, 'captcha_failed', 'The captcha is missing or was refused: solve it again');
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
    schema,
    onRequest: [rejectWhileDraining, deps.guard],
    // An empty body, then a malformed Idempotency-Key, before the schema looks at the body.
    preValidation: checkBody,
    handler: async (request, reply) => {
      const body = await handle(request, reply);
      return reply.code(202).send(body);
    },
  });
}
