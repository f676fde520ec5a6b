import { describe, expect, it } from 'vitest';
import { mapError, validationDetails } from '../../src/http/error-handler.js';
import { HttpError } from '../../src/http/http-error.js';
import { SAFE_TEXT_PATTERN } from '../../src/http/schemas/common.js';

const fastifyError = (code: string, statusCode: number) => Object.assign(new Error('framework says'), { code, statusCode });

describe('mapError', () => {
  it('passes an HttpError through with its headers', () => {
    const mapped = mapError(new HttpError(503, 'unavailable', 'later', undefined, { 'retry-after': '5' }));
    expect(mapped).toEqual({
      statusCode: 503,
      body: { error: 'unavailable', message: 'later' },
      headers: { 'retry-after': '5' },
      unexpected: false,
    });
  });

  it.each([
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'unsupported_media_type'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'payload_too_large'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 400, 'invalid_json'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 400, 'invalid_json'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 400, 'invalid_json'],
    ['FST_ERR_BAD_URL', 400, 404, 'not_found'],
  ])('maps %s to %i %s', (code, status, expectedStatus, expectedCode) => {
    const mapped = mapError(fastifyError(code, status));
    expect(mapped.statusCode).toBe(expectedStatus);
    expect(mapped.body.error).toBe(expectedCode);
    expect(mapped.body.message).not.toContain('framework says');
  });

  it('maps a plain 429 (rate limit plugin default) to rate_limited', () => {
    expect(mapError(Object.assign(new Error('x'), { statusCode: 429 })).body.error).toBe('rate_limited');
  });

  it('hides anything unexpected behind a generic 500', () => {
    const mapped = mapError(new Error('SQLITE_BUSY: secret camille@example.fr'));
    expect(mapped).toMatchObject({ statusCode: 500, body: { error: 'internal_error', message: 'Internal error' }, unexpected: true });
    expect(mapError('a string').statusCode).toBe(500);
    expect(mapError(null).statusCode).toBe(500);
  });

  it('turns validation errors into details with paths and no values', () => {
    const error = Object.assign(new Error('body/contact must be object'), {
      statusCode: 400,
      code: 'FST_ERR_VALIDATION',
      validationContext: 'body',
      validation: [
        { instancePath: '/contact/email', schemaPath: '#/x', keyword: 'type', params: { type: 'string' } },
        { instancePath: '', schemaPath: '#/additionalProperties', keyword: 'additionalProperties', params: { additionalProperty: 'foo' } },
      ],
    });
    expect(mapError(error)).toMatchObject({
      statusCode: 400,
      body: {
        error: 'validation_failed',
        details: [
          { path: '/contact/email', message: 'must be string' },
          { path: '/foo', message: 'is not allowed' },
        ],
      },
    });
  });
});

describe('validationDetails', () => {
  it('summarises an anyOf by the fields it asks for', () => {
    const details = validationDetails([
      { instancePath: '/contact', schemaPath: '#/properties/contact/anyOf/0/required', keyword: 'required', params: { missingProperty: 'email' } },
      { instancePath: '/contact', schemaPath: '#/properties/contact/anyOf/1/required', keyword: 'required', params: { missingProperty: 'phone' } },
      { instancePath: '/contact', schemaPath: '#/properties/contact/anyOf', keyword: 'anyOf', params: {} },
    ]);
    expect(details).toEqual([{ path: '/contact', message: 'must include email or phone' }]);
  });

  it('explains control characters, prefixes the request part and escapes pointers', () => {
    const details = validationDetails(
      [
        { instancePath: '/message', schemaPath: '#/p', keyword: 'pattern', params: { pattern: SAFE_TEXT_PATTERN } },
        { instancePath: '', schemaPath: '#/r', keyword: 'required', params: { missingProperty: 'a/b~c' } },
      ],
      'querystring',
    );
    expect(details).toEqual([
      { path: '/query/message', message: 'must not contain control or invisible formatting characters' },
      { path: '/query/a~1b~0c', message: 'is required' },
    ]);
  });

  it('caps the list so a flood of unknown keys stays small', () => {
    const errors = Array.from({ length: 500 }, (_, i) => ({
      instancePath: '',
      schemaPath: '#/additionalProperties',
      keyword: 'additionalProperties',
      params: { additionalProperty: `k${i}` },
    }));
    expect(validationDetails(errors)).toHaveLength(50);
  });
});
