import sjson from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes received, for the idempotency body hash. Null when there was no body. */
    rawBody: Buffer | null;
  }
}

export const JSON_BODY_LIMIT = 64 * 1024;

const invalidJson = (message: string): HttpError => new HttpError(400, 'invalid_json', message);

/**
 * Replaces Fastify's parsers with one strict JSON parser: any other media type is a 415 (from
 * Fastify, as no parser matches), invalid UTF-8 is refused rather than silently turned into
 * U+FFFD, and `__proto__` / `constructor.prototype` keys are refused outright.
 * An empty body parses to `undefined`; routes that need a body reject that themselves.
 */
export function installJsonParser(app: FastifyInstance): void {
  app.decorateRequest('rawBody', null);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      done(new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json with UTF-8'), undefined);
      return;
    }
    const bytes = body as Buffer;
    request.rawBody = bytes;
    if (bytes.length === 0) {
      done(null, undefined);
      return;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      done(invalidJson('Request body is not valid UTF-8'), undefined);
      return;
    }
    try {
      done(null, sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      // The parser's message quotes the input; the client gets a fixed one.
      done(invalidJson('Request body is not valid JSON'), undefined);
    }
  });
}
