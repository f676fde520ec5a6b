import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorSummary } from '../observability/error-summary.js';
import { HttpError, type ErrorCode, type ErrorDetail } from './http-error.js';
import { SAFE_TEXT_PATTERN } from './schemas/common.js';

/**
 * The one place where any error becomes the contract's `{"error", "message", "details"}`.
 * Known client mistakes keep their 4xx; anything else is a 500 with a generic message, so no
 * stack, SQL or input ever leaks to the client.
 */

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

export interface MappedError {
  statusCode: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True for a 500 we did not see coming: the caller logs it. */
  unexpected: boolean;
}

/** A flooded body (e.g. 10,000 unknown keys) must not turn into a 1 MB error response. */
const MAX_DETAILS = 50;
const MAX_KEY_IN_PATH = 100;

/** The subset of an Ajv error we read; Fastify hands them over untyped. */
interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  propertyName?: string;
}

const CONTEXT_PREFIX: Record<string, string> = {
  body: '',
  querystring: '/query',
  params: '/params',
  headers: '/headers',
};

const pointerToken = (key: unknown): string =>
  String(key).slice(0, MAX_KEY_IN_PATH).replace(/~/g, '~0').replace(/\//g, '~1');

/** Messages describe the rule, never the value: the value may be personal data. */
function describe(error: AjvError): ErrorDetail | null {
  const { keyword, params } = error;
  const path = error.instancePath;
  switch (keyword) {
    case 'required':
      return { path: `${path}/${pointerToken(params.missingProperty)}`, message: 'is required' };
    case 'additionalProperties':
      return { path: `${path}/${pointerToken(params.additionalProperty)}`, message: 'is not allowed' };
    case 'type':
      return { path, message: `must be ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type)}` };
    case 'maxLength':
      return { path, message: `must be at most ${String(params.limit)} characters` };
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters` };
    case 'pattern':
      return {
        path,
        message: params.pattern === SAFE_TEXT_PATTERN ? 'must not contain control or invisible formatting characters' : 'has an invalid format',
      };
    case 'maxProperties':
      return { path, message: `must have at most ${String(params.limit)} keys` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)}` };
    case 'format':
      return { path, message: `must be a valid ${String(params.format)}` };
    case 'enum':
      return { path, message: 'must be one of the allowed values' };
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'propertyNames':
      return { path, message: 'has a key that is not allowed (letters, digits, "_", ".", "-"; at most 64)' };
    default:
      return { path, message: 'is invalid' };
  }
}

/** Turns Ajv's list into one detail per problem, in the order Ajv found them. */
export function validationDetails(errors: readonly AjvError[], context = 'body'): ErrorDetail[] {
  const prefix = CONTEXT_PREFIX[context] ?? `/${context}`;
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  const push = (detail: ErrorDetail | null): void => {
    if (detail === null) return;
    const full = { path: `${prefix}${detail.path}` || '/', message: detail.message };
    const key = `${full.path}\u0000${full.message}`;
    if (!seen.has(key) && details.length < MAX_DETAILS) {
      seen.add(key);
      details.push(full);
    }
  };
  for (const error of errors) {
    // Branches of an anyOf and checks inside propertyNames are summarised by their parent error.
    if (error.schemaPath.includes('/anyOf/') || error.propertyName !== undefined) continue;
    if (error.keyword === 'anyOf') {
      const missing = errors
        .filter((e) => e.keyword === 'required' && e.schemaPath.startsWith(`${error.schemaPath}/`))
        .map((e) => String(e.params.missingProperty));
      push({
        path: error.instancePath,
        message: missing.length > 0 ? `must include ${missing.join(' or ')}` : 'must match one of the allowed forms',
      });
      continue;
    }
    push(describe(error));
  }
  return details;
}

/** What the client may be told, by code, for errors raised by Fastify and its plugins. */
const FASTIFY_CODES: Record<string, [number, ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Content-Type must be application/json'],
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: [415, 'unsupported_media_type', 'Content-Type must be application/json'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'Request body is too large'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_json', 'Request body does not match its Content-Length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json', 'Request body is empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json', 'Request body is not valid JSON'],
  FST_ERR_BAD_URL: [404, 'not_found', 'Not found'],
  FST_ERR_NOT_FOUND: [404, 'not_found', 'Not found'],
};

/** Other 4xx from the framework or Node (aborted upload, …), by status. */
const BY_STATUS: Record<number, [number, ErrorCode, string]> = {
  400: [400, 'invalid_json', 'Malformed request'],
  401: [401, 'unauthorized', 'Missing or invalid credentials'],
  404: [404, 'not_found', 'Not found'],
  405: [404, 'not_found', 'Not found'],
  413: [413, 'payload_too_large', 'Request body is too large'],
  415: [415, 'unsupported_media_type', 'Content-Type must be application/json'],
  429: [429, 'rate_limited', 'Too many requests, retry later'],
};

export function mapError(error: unknown): MappedError {
  const mapped = (statusCode: number, code: ErrorCode, message: string, details?: ErrorDetail[]): MappedError => ({
    statusCode,
    body: details === undefined ? { error: code, message } : { error: code, message, details },
    headers: {},
    unexpected: false,
  });

  if (error instanceof HttpError) {
    return { ...mapped(error.statusCode, error.code, error.message, error.details), headers: { ...error.headers } };
  }
  const err = (typeof error === 'object' && error !== null ? error : {}) as Partial<FastifyError>;
  if (Array.isArray(err.validation)) {
    const details = validationDetails(err.validation as unknown as AjvError[], err.validationContext);
    return mapped(400, 'validation_failed', 'Request is invalid', details);
  }
  const byCode = err.code !== undefined ? FASTIFY_CODES[err.code] : undefined;
  if (byCode !== undefined) return mapped(...byCode);

  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    return mapped(...(BY_STATUS[status] ?? [400, 'validation_failed', 'Request is invalid']));
  }
  if (status === 503) return { ...mapped(503, 'unavailable', 'Service temporarily unavailable, retry later'), headers: { 'retry-after': '5' } };
  return { ...mapped(500, 'internal_error', 'Internal error'), unexpected: true };
}

export type RejectionListener = (request: FastifyRequest, code: ErrorCode) => void;

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown, onRejected?: RejectionListener): void {
  const mapped = mapError(error);
  if (mapped.unexpected) request.log.error({ err: errorSummary(error) }, 'unexpected error');
  onRejected?.(request, mapped.body.error);
  reply.headers(mapped.headers);
  void reply.code(mapped.statusCode).type('application/json; charset=utf-8').send(mapped.body);
}

export function installErrorHandling(app: FastifyInstance, onRejected?: RejectionListener): void {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error, onRejected));
  // `cors: false`, as on every route but the ingest one (app.ts): a 404 carries no CORS headers.
  // Fastify passes `config` on to the handler's routeOptions; its types only list the hooks.
  const notFoundOptions: object = { config: { cors: false } };
  app.setNotFoundHandler(notFoundOptions, (request, reply) => {
    void reply.code(404).type('application/json; charset=utf-8').send({ error: 'not_found', message: 'Not found' });
  });
}
