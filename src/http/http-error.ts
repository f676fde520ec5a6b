/** The error codes of the public contract: clients branch on these, so the set is closed. */
export type ErrorCode =
  | 'invalid_json'
  | 'validation_failed'
  | 'unauthorized'
  | 'origin_not_allowed'
  | 'not_found'
  | 'idempotency_in_flight'
  | 'idempotency_key_reused'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'captcha_failed'
  | 'unavailable'
  | 'internal_error';

export interface ErrorDetail {
  /** JSON pointer, e.g. /contact/email or /headers/idempotency-key. */
  path: string;
  message: string;
}

/** An error whose status, code and message are safe to show the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Store or queue unreachable, or draining: the client should simply try again shortly. */
export const unavailable = (): HttpError =>
  new HttpError(503, 'unavailable', 'Service temporarily unavailable, retry later', undefined, { 'retry-after': '5' });
