import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { brand } from './config-factories.js';

/**
 * Malformed input of every kind, sent as raw bytes over a real socket so nothing re-encodes
 * it. Each must get a 4xx with a contract error body: never a 5xx, never a hang. Shared by the
 * in-process test (test/integration) and the one against a spawned leadgate (test/e2e).
 */

export const CONTRACT_CODES = new Set([
  'invalid_json',
  'validation_failed',
  'unauthorized',
  'origin_not_allowed',
  'not_found',
  'idempotency_in_flight',
  'idempotency_key_reused',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
]);

/** The brand every case posts as (key `mp-key-0123456789abcdefghij`, no browser origins, FR numbers). */
export const corpusConfig: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key-0123456789abcdefghij'] })],
  destinations: [],
  routes: [],
};

export const valid = { contact: { email: 'a@example.fr', phone: '06 12 34 56 78' }, service: 'menage' };
const withValid = (patch: Record<string, unknown>) => JSON.stringify({ ...valid, ...patch });
const withContact = (patch: Record<string, unknown>) => JSON.stringify({ ...valid, contact: { ...valid.contact, ...patch } });
const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

export interface Case {
  name: string;
  body?: string | Buffer;
  headers?: OutgoingHttpHeaders;
  /** Replace the default headers entirely (auth + JSON content type). */
  rawHeaders?: OutgoingHttpHeaders;
  method?: string;
  path?: string;
  status: number;
  error: string;
}

export const AUTH = { authorization: 'Bearer mp-key-0123456789abcdefghij' };
export const JSON_CT = { 'content-type': 'application/json' };
const bad = (name: string, body: string | Buffer, error = 'validation_failed', status = 400): Case => ({ name, body, status, error });

export const corpus: Case[] = [
  // Wrong types, field by field.
  bad('contact as a string', withValid({ contact: 'a@example.fr' })),
  bad('contact as an array', withValid({ contact: [valid.contact] })),
  bad('contact null', withValid({ contact: null })),
  bad('contact empty', withValid({ contact: {} })),
  bad('service as a number', withValid({ service: 42 })),
  bad('service null', withValid({ service: null })),
  bad('service with uppercase and spaces', withValid({ service: 'Ménage complet' })),
  bad('service missing', JSON.stringify({ contact: valid.contact })),
  bad('message as a number', withValid({ message: 12 })),
  bad('message as an object', withValid({ message: { text: 'hi' } })),
  bad('consent as a string', withValid({ consent: 'yes' })),
  bad('consent.contact as a string', withValid({ consent: { contact: 'true' } })),
  bad('consent.marketing as a number', withValid({ consent: { marketing: 1 } })),
  bad('source.url as a number', withValid({ source: { url: 5 } })),
  bad('source.utm as an array', withValid({ source: { utm: ['google'] } })),
  bad('source.utm value as a number', withValid({ source: { utm: { source: 1 } } })),
  bad('source.utm with 11 keys', withValid({ source: { utm: keys(11) } })),
  bad('meta as an array', withValid({ meta: ['a'] })),
  bad('meta value as a number', withValid({ meta: { a: 1 } })),
  bad('meta value null', withValid({ meta: { a: null } })),
  bad('meta value an object', withValid({ meta: { a: { b: 'c' } } })),
  bad('meta with 21 keys', withValid({ meta: keys(21) })),
  bad('meta key with spaces', withValid({ meta: { 'a b': 'c' } })),
  bad('email as an array', withContact({ email: ['a@example.fr'] })),
  bad('phone as a number', withContact({ phone: 612345678 })),
  bad('postal code as a number', withContact({ postal_code: 75011 })),
  bad('null everywhere', JSON.stringify({ contact: null, service: null, message: null, consent: null, source: null, meta: null })),
  bad('null email and phone', withContact({ email: null, phone: null })),
  bad('unknown contact field', withContact({ nickname: 'x' })),
  bad('unknown top-level field', withValid({ priority: 'high' })),
  bad('email that is not an address', withContact({ email: 'not-an-email' })),
  bad('phone that is not a number', withContact({ phone: 'call me maybe' })),
  // Huge strings and arrays.
  bad('message of 5001 characters', withValid({ message: 'x'.repeat(5001) })),
  bad('first name of 101 characters', withContact({ first_name: 'x'.repeat(101) })),
  bad('email of 300 characters', withContact({ email: `${'a'.repeat(290)}@example.fr` })),
  bad('array of 10,000 strings', withContact({ first_name: Array.from({ length: 10_000 }, () => 'a') })),
  bad('body over 64 KiB', withValid({ message: 'x'.repeat(70_000) }), 'payload_too_large', 413),
  // Nesting.
  bad('10,000 unclosed brackets', '['.repeat(10_000), 'invalid_json'),
  bad('10,000-deep closed arrays in meta', `{"contact":{"email":"a@example.fr"},"service":"menage","meta":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`),
  bad('10,000-deep closed arrays as the body', `${'['.repeat(10_000)}${']'.repeat(10_000)}`),
  bad('5,000-deep objects in an unknown field', `{"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`),
  // Encoding.
  bad('invalid UTF-8 bytes', Buffer.concat([Buffer.from('{"contact":{"email":"a@example.fr","city":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"},"service":"menage"}')]), 'invalid_json'),
  bad('overlong UTF-8 slash', Buffer.concat([Buffer.from('{"service":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 'invalid_json'),
  bad('UTF-16 body', Buffer.from(JSON.stringify(valid), 'utf16le'), 'invalid_json'),
  // Prototype keys.
  bad('__proto__ at top level', `{"__proto__":{"admin":true},"contact":{"email":"a@example.fr"},"service":"menage"}`, 'invalid_json'),
  bad('__proto__ nested', `{"contact":{"email":"a@example.fr","__proto__":{"x":1}},"service":"menage"}`, 'invalid_json'),
  bad('escaped __proto__', `{"meta":{"\\u005f_proto__":"x"},"contact":{"email":"a@example.fr"},"service":"menage"}`, 'invalid_json'),
  bad('constructor.prototype at top level', `{"constructor":{"prototype":{"x":1}},"contact":{"email":"a@example.fr"},"service":"menage"}`, 'invalid_json'),
  bad('constructor key at top level', withValid({ constructor: 'x' })),
  bad('constructor key in meta', withValid({ meta: { constructor: 'x' } })),
  bad('prototype key in meta', withValid({ meta: { prototype: 'x' } })),
  bad('prototype key in utm', withValid({ source: { utm: { prototype: 'x' } } })),
  // Control characters.
  bad('NUL in a name', withContact({ first_name: 'Cam\u0000ille' })),
  bad('escape sequence in the message', withValid({ message: 'hi \u001b[31m' })),
  bad('DEL in the city', withContact({ city: 'Paris\u007f' })),
  bad('carriage return in the message', withValid({ message: 'a\r\nb' })),
  bad('bell in a meta value', withValid({ meta: { a: '\u0007' } })),
  bad('vertical tab in utm', withValid({ source: { utm: { source: 'g\u000bo' } } })),
  // Not an object.
  bad('a JSON array', '[]'),
  bad('a JSON string', '"hello"'),
  bad('a JSON number', '42'),
  bad('JSON null', 'null'),
  bad('JSON true', 'true'),
  // Not JSON.
  bad('truncated object', '{"a":', 'invalid_json'),
  bad('trailing garbage', '{}x', 'invalid_json'),
  bad('single quotes', "{'service':'menage'}", 'invalid_json'),
  bad('form encoding with a JSON type', 'service=menage&email=a', 'invalid_json'),
  bad('whitespace only', '   \n ', 'invalid_json'),
  bad('empty body', '', 'invalid_json'),
  // Content types.
  { name: 'text/plain', body: JSON.stringify(valid), headers: { 'content-type': 'text/plain' }, status: 415, error: 'unsupported_media_type' },
  { name: 'form urlencoded', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, error: 'unsupported_media_type' },
  { name: 'multipart', body: '--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, error: 'unsupported_media_type' },
  { name: 'latin-1 charset', body: JSON.stringify(valid), headers: { 'content-type': 'application/json; charset=iso-8859-1' }, status: 415, error: 'unsupported_media_type' },
  { name: 'garbage content type', body: JSON.stringify(valid), headers: { 'content-type': ';;;' }, status: 415, error: 'unsupported_media_type' },
  { name: 'json-like content type', body: JSON.stringify(valid), headers: { 'content-type': 'application/jsonx' }, status: 415, error: 'unsupported_media_type' },
  { name: 'missing content type with a body', body: JSON.stringify(valid), rawHeaders: AUTH, status: 415, error: 'unsupported_media_type' },
  { name: 'missing content type, chunked', body: JSON.stringify(valid), rawHeaders: { ...AUTH, 'transfer-encoding': 'chunked' }, status: 415, error: 'unsupported_media_type' },
  { name: 'missing content type and body', body: '', rawHeaders: AUTH, status: 400, error: 'invalid_json' },
  // Auth headers.
  { name: 'no auth at all', body: JSON.stringify(valid), rawHeaders: JSON_CT, status: 401, error: 'unauthorized' },
  { name: 'empty Bearer', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, authorization: 'Bearer ' }, status: 401, error: 'unauthorized' },
  { name: 'Basic auth', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, authorization: 'Basic bXAta2V5Og==' }, status: 401, error: 'unauthorized' },
  { name: 'bare key in Authorization', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, authorization: 'mp-key-0123456789abcdefghij' }, status: 401, error: 'unauthorized' },
  { name: 'very long key', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, authorization: `Bearer ${'k'.repeat(8000)}` }, status: 401, error: 'unauthorized' },
  { name: 'two keys in Bearer', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, authorization: 'Bearer mp-key-0123456789abcdefghij mp-key-0123456789abcdefghij' }, status: 401, error: 'unauthorized' },
  { name: 'Bearer and a different X-Api-Key', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, ...AUTH, 'x-api-key': 'other' }, status: 401, error: 'unauthorized' },
  { name: 'X-Api-Key twice', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, 'x-api-key': ['mp-key-0123456789abcdefghij', 'mp-key-0123456789abcdefghij'] }, status: 401, error: 'unauthorized' },
  { name: 'empty X-Api-Key', body: JSON.stringify(valid), rawHeaders: { ...JSON_CT, 'x-api-key': '' }, status: 401, error: 'unauthorized' },
  { name: 'origin of another site', body: JSON.stringify(valid), headers: { origin: 'https://evil.example' }, status: 403, error: 'origin_not_allowed' },
  // Idempotency keys.
  { name: 'empty Idempotency-Key', body: JSON.stringify(valid), headers: { 'idempotency-key': '' }, status: 400, error: 'validation_failed' },
  { name: '256-character Idempotency-Key', body: JSON.stringify(valid), headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400, error: 'validation_failed' },
  { name: 'Idempotency-Key with a tab', body: JSON.stringify(valid), headers: { 'idempotency-key': 'a\tb' }, status: 400, error: 'validation_failed' },
  { name: 'Idempotency-Key with latin-1 bytes', body: JSON.stringify(valid), headers: { 'idempotency-key': 'cl\u00e9' }, status: 400, error: 'validation_failed' },
  { name: 'Idempotency-Key twice', body: JSON.stringify(valid), headers: { 'idempotency-key': ['a', 'b'] }, status: 400, error: 'validation_failed' },
  // Methods and paths.
  { name: 'PUT on the ingest route', method: 'PUT', body: JSON.stringify(valid), status: 404, error: 'not_found' },
  { name: 'GET on the ingest route', method: 'GET', status: 404, error: 'not_found' },
  { name: 'unknown path', path: '/v1/lead', body: JSON.stringify(valid), status: 404, error: 'not_found' },
  { name: 'broken percent-encoding', method: 'GET', path: '/v1/leads/%zz%E0%A4%A', status: 404, error: 'not_found' },
  { name: 'admin route without admin API', method: 'GET', path: '/v1/deliveries?limit=%00', status: 404, error: 'not_found' },
];

export interface Reply {
  status: number;
  body: string;
}


export function send(
  port: number,
  c: { method?: string; path?: string; headers: OutgoingHttpHeaders; body?: string | Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: c.method ?? 'POST', path: c.path ?? '/v1/leads', headers: c.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

/** Sends one case and returns what the test must check: status and error code. */
export async function sendCase(port: number, c: Case): Promise<{ reply: Reply; body: { error: unknown; message: unknown } }> {
  const headers = c.rawHeaders ?? { ...AUTH, ...JSON_CT, ...c.headers };
  const reply = await send(port, { method: c.method, path: c.path, headers, body: c.body });
  return { reply, body: JSON.parse(reply.body) as { error: unknown; message: unknown } };
}
