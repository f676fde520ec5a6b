import type { FastifyInstance, FastifyRequest } from 'fastify';
import { erasureStatus, exportPerson, requestErasure, type PrivacyDeps } from '../../privacy/requests.js';
import { HttpError } from '../http-error.js';
import { idParamsSchema } from '../schemas/admin.js';
import { ADMIN_DOC, ADMIN_ERRORS, errors, leadViewSchema, nullable, open } from '../schemas/responses.js';

export interface PrivacyRouteDeps {
  privacy: PrivacyDeps;
  /** Called once an erasure is recorded, so a worker in this process starts at once. */
  onErasureRequested?: () => void;
  /** Runs a store call; maps its failure to 503 (admin.ts's fromStore). */
  fromStore: <T>(request: FastifyRequest, call: () => Promise<T>) => Promise<T>;
}

const personSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    email: { type: 'string', minLength: 1, maxLength: 254 },
    phone: { type: 'string', minLength: 1, maxLength: 64 },
    brand: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
  },
} as const;

const erasureViewSchema = open({
  id: { type: 'string' },
  status: { type: 'string', enum: ['pending', 'done'] },
  brand: nullable('string'),
  leads: { type: 'integer', description: 'Leads erased so far' },
  requested_at: { type: 'string', format: 'date-time' },
  completed_at: nullable('string', { format: 'date-time' }),
  notified: {
    type: 'array',
    description: 'Per destination that had received one of the leads: its `lead.erased` notices (status of the least advanced)',
    items: open({ destination: { type: 'string' }, status: { type: 'string' }, count: { type: 'integer' } }),
  },
});

type PersonBody = { email?: string; phone?: string; brand?: string };

const invalid = (path: string, message: string): HttpError =>
  new HttpError(400, 'validation_failed', 'Request is invalid', [{ path, message }]);

/** GDPR art. 15 and 17 on the admin API; the use cases are src/privacy/requests.ts (the CLI calls the same). */
export function registerPrivacyRoutes(app: FastifyInstance, deps: PrivacyRouteDeps): void {
  const { privacy, fromStore } = deps;

  app.post<{ Body: PersonBody }>(
    '/v1/privacy/exports',
    {
      schema: {
        ...ADMIN_DOC,
        summary: "Every lead of a person, with deliveries and attempts (GDPR art. 15)",
        description: 'One of `email` or `phone`, normalised as at ingest (phone with the brand\'s default country, else FR); `brand` limits it to one brand.',
        body: personSchema,
        response: {
          200: open({ exported_at: { type: 'string', format: 'date-time' }, leads: { type: 'array', items: leadViewSchema } }, { description: 'The export' }),
          ...errors([400]),
          ...ADMIN_ERRORS,
        },
      },
    },
    async (request) => {
      const result = await fromStore(request, () => exportPerson(privacy, request.body, 'admin-token'));
      if (result.kind === 'invalid') throw invalid(result.path, result.message);
      return result.body;
    },
  );

  app.post<{ Body: PersonBody }>(
    '/v1/privacy/erasures',
    {
      schema: {
        ...ADMIN_DOC,
        summary: "Erase a person's leads everywhere (GDPR art. 17, 19)",
        description: 'Recorded at once and run by the workers; follow it with GET /v1/privacy/erasures/{id}.',
        body: personSchema,
        response: {
          202: open({ id: { type: 'string' }, status: { type: 'string', enum: ['pending'] } }, { description: 'Recorded; the erasure runs' }),
          ...errors([400]),
          ...ADMIN_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const result = await fromStore(request, () => requestErasure(privacy, request.body, 'admin-token'));
      if (result.kind === 'invalid') throw invalid(result.path, result.message);
      deps.onErasureRequested?.();
      return reply.code(202).send({ id: result.id, status: 'pending' });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/privacy/erasures/:id',
    {
      schema: {
        ...ADMIN_DOC,
        summary: 'How far an erasure got',
        params: idParamsSchema,
        response: { 200: { description: 'The erasure', ...erasureViewSchema }, ...errors([400, 404]), ...ADMIN_ERRORS },
      },
    },
    async (request) => {
      const view = await fromStore(request, () => erasureStatus(privacy, request.params.id));
      if (view === null) throw new HttpError(404, 'not_found', 'Not found');
      return view;
    },
  );
}
