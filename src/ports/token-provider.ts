import type { DestinationAuth } from '../domain/config.js';

export type OAuth2Auth = Extract<DestinationAuth, { type: 'oauth2' }>;

export type TokenResult =
  | { ok: true; accessToken: string }
  /** `error` names what failed (status, error code), never a secret nor what the endpoint answered. */
  | { ok: false; error: string; durationMs: number };

/** Access tokens for destinations that use OAuth2 client credentials. */
export interface TokenProvider {
  /**
   * A usable access token: cached per destination, refreshed before it expires, one token
   * request at a time per destination (concurrent callers share it). Never throws.
   */
  getToken(destinationId: string, auth: OAuth2Auth, timeoutMs: number): Promise<TokenResult>;
  /** The destination rejected this token: forget it, unless a newer one already replaced it. */
  invalidate(destinationId: string, accessToken: string): void;
  close(): Promise<void>;
}
