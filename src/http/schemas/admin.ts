import { ID_PATTERN } from './common.js';

/** Lead and delivery ids are UUIDs; anything else cannot name a record. */
const recordId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' } as const;

export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: recordId },
} as const;

/**
 * Query strings are validated without type coercion (the app's Ajv is strict for bodies), so
 * `limit` is matched as digits and converted by the handler.
 */
export const listDeliveriesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['pending', 'delivered', 'dead', 'cancelled'] },
    destination: { type: 'string', pattern: ID_PATTERN },
    limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
    cursor: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[\\x21-\\x7E]+$' },
  },
} as const;

export const bulkReplayBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['destination', 'status'],
  properties: {
    destination: { type: 'string', pattern: ID_PATTERN },
    status: { type: 'string', const: 'dead' },
    since: { type: 'string', format: 'date-time', maxLength: 40 },
    until: { type: 'string', format: 'date-time', maxLength: 40 },
  },
} as const;
