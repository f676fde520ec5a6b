import type { ErrorClass } from '../domain/delivery.js';

/** Sends one prepared HTTP request to a destination. Never throws for HTTP or network failures. */
export interface DestinationClient {
  send(request: OutboundRequest): Promise<SendResult>;
  close(): Promise<void>;
}

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export type SendResult =
  | {
      kind: 'response';
      statusCode: number;
      /** From Retry-After, in ms, when the destination sent one. */
      retryAfterMs: number | null;
      /** At most 1 KiB of the response body. */
      body: string;
      durationMs: number;
    }
  | { kind: 'failure'; errorClass: Extract<ErrorClass, 'timeout' | 'network'>; error: string; durationMs: number };
