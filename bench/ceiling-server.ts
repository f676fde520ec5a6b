import Fastify from 'fastify';
import { leadBodySchema } from '../src/http/schemas/lead.js';

/**
 * The ceiling leadgate's ingest is measured against: a bare Fastify server on the same machine
 * that validates the same body with the same schema and Ajv options, and answers 202 without
 * authenticating, normalising, persisting or logging. Prints its port, then serves until killed.
 */
const app = Fastify({
  logger: false,
  bodyLimit: 64 * 1024,
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
});
app.post('/v1/leads', { schema: { body: leadBodySchema } }, async (_request, reply) => {
  return reply.code(202).send({ id: 'ceiling', status: 'accepted' });
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
console.log(JSON.stringify({ msg: 'leadgate started', address }));
