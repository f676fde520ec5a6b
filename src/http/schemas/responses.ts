import type { ErrorCode } from '../http-error.js';

/**
 * Response schemas, shared by the routes that declare them (each route's `schema.response`).
 * They document the API (the OpenAPI document is generated from the routes) and drive
 * serialization, so every object keeps `additionalProperties: true`: a field added to a view
 * later is still sent, merely undocumented.
 */

export type Schema = Record<string, unknown>;

export const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const open = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  additionalProperties: true,
  properties,
  ...extra,
});

const retryAfter = { 'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' } };

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad body, query or header (`invalid_json`, `validation_failed` with one detail per problem, `captcha_failed`)',
  401: 'Missing or unknown key or token',
  403: "The browser origin is not in the brand's list, or the key kind is not allowed from it",
  404: 'Not found',
  409: 'A request with this Idempotency-Key is still being processed',
  413: 'Body larger than 64 KiB',
  415: 'Content-Type is not application/json (UTF-8)',
  422: 'This Idempotency-Key was used with a different body',
  429: "Over a budget (the client IP's or the brand's)",
  503: 'Store or queue unreachable, draining, or overloaded: retry after `Retry-After` seconds',
};

const ERROR_CODES: Record<number, ErrorCode[]> = {
  400: ['invalid_json', 'validation_failed'],
  401: ['unauthorized'],
  403: ['origin_not_allowed'],
  404: ['not_found'],
  409: ['idempotency_in_flight'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  422: ['idempotency_key_reused'],
  429: ['rate_limited'],
  503: ['unavailable'],
};

/** The contract's error body, restricted to the codes a status can carry. */
function errorResponse(status: number, codes: ErrorCode[]): Schema {
  return {
    description: ERROR_DESCRIPTIONS[status] ?? 'Error',
    ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
    type: 'object',
    additionalProperties: true,
    required: ['error', 'message'],
    properties: {
      error: { type: 'string', enum: codes },
      message: { type: 'string' },
      details: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: true,
          required: ['path', 'message'],
          properties: {
            path: { type: 'string', description: 'JSON pointer, e.g. /contact/email or /headers/idempotency-key' },
            message: { type: 'string' },
          },
        },
      },
    },
  };
}

/** Error responses by status; `extra` adds codes a route can also answer (e.g. captcha_failed). */
export const errors = (statuses: number[], extra: Partial<Record<number, ErrorCode[]>> = {}): Record<number, Schema> =>
  Object.fromEntries(statuses.map((s) => [s, errorResponse(s, [...(ERROR_CODES[s] ?? []), ...(extra[s] ?? [])])]));

export const ADMIN_DOC = { tags: ['admin'], security: [{ adminToken: [] }] };
export const ADMIN_ERRORS = errors([401, 429, 503]);

export const deliveryProperties = {
  id: { type: 'string', description: 'Delivery id, sent as `webhook-id`; the same on every retry and replay' },
  lead_id: { type: 'string' },
  destination: { type: 'string' },
  status: { type: 'string', enum: ['pending', 'delivered', 'dead', 'cancelled'], description: '`cancelled`: its lead was erased before it was sent' },
  kind: { type: 'string', enum: ['lead.created', 'lead.erased'], description: 'What it sends: the lead, or the notice of its erasure' },
  attempts: { type: 'integer' },
  last_status_code: nullable('integer'),
  last_error: nullable('string'),
  next_attempt_at: nullable('string', { format: 'date-time' }),
  delivered_at: nullable('string', { format: 'date-time' }),
  created_at: dateTime,
  updated_at: dateTime,
};

export const deliveryViewSchema = open(deliveryProperties);

export const attemptViewSchema = open({
  number: { type: 'integer' },
  started_at: nullable('string', { format: 'date-time' }),
  duration_ms: { type: 'number' },
  status_code: nullable('integer'),
  error_class: nullable('string'),
  error: nullable('string'),
  response_body: nullable('string', { description: 'At most 1 KiB of what the destination answered' }),
  outcome: { type: 'string' },
});

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const touchView = open({ url: { type: 'string' }, referrer: { type: 'string' }, utm: stringMap, at: { type: 'string' } });

/** `GET /v1/leads/:id`: the normalised lead, its deliveries and every attempt. */
export const leadViewSchema = open({
  id: { type: 'string' },
  brand: { type: 'string' },
  received_at: dateTime,
  status: { type: 'string', enum: ['routed', 'unrouted', 'spam', 'erased'], description: '`erased`: only id, brand, received_at and erased_at are left' },
  erased_at: dateTime,
  spam_reason: { type: 'string', description: 'Why a lead was kept as spam: `honeypot` or `too_fast`' },
  captcha: { type: 'string', enum: ['verified', 'unverified'], description: '`unverified` when the captcha provider could not be reached' },
  duplicate_of: { type: 'string', description: 'Set when the brand flags duplicates and an earlier lead matched' },
  contact: open({
    first_name: { type: 'string' },
    last_name: { type: 'string' },
    email: { type: 'string', description: 'Trimmed and lowercased' },
    phone: { type: 'string', description: 'E.164, e.g. +33612345678' },
    postal_code: { type: 'string' },
    city: { type: 'string' },
  }),
  service: { type: 'string' },
  message: { type: 'string' },
  consent: open({
    contact: { type: 'boolean' },
    marketing: { type: 'boolean' },
    text: { type: 'string' },
    text_version: { type: 'string' },
  }),
  proof: open(
    {
      key_kind: { type: 'string', enum: ['secret', 'publishable'] },
      ip: { type: 'string', description: 'The client IP truncated to its /24 (IPv4) or /48 (IPv6)' },
      user_agent: { type: 'string' },
    },
    { description: 'How the lead reached leadgate: the consent proof beside `consent` and `source`' },
  ),
  source: open({
    url: { type: 'string' },
    form: { type: 'string' },
    referrer: { type: 'string' },
    utm: stringMap,
    first_touch: touchView,
    last_touch: touchView,
  }),
  meta: stringMap,
  deliveries: {
    type: 'array',
    items: open({ ...deliveryProperties, history: { type: 'array', items: attemptViewSchema } }),
  },
});
