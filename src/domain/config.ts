/** The validated configuration the rest of leadgate works with (see src/config for parsing). */

export interface BrandConfig {
  id: string;
  /** Secret keys, for the brand's servers. */
  apiKeys: string[];
  /** Keys a page may show: accepted only with an Origin in allowedOrigins. */
  publishableKeys: string[];
  /** Accept a secret key from a browser origin (a leaked key is otherwise refused, not served). */
  secretKeysInBrowser: boolean;
  /** Budget per client IP: every request with a publishable key (and with a secret key when secretKeys). */
  perIp: { perMinute: number; secretKeys: boolean };
  /** Bot checks; null = none. */
  bot: BotProtection | null;
  allowedOrigins: string[];
  /** ISO 3166-1 alpha-2, for phone numbers written without +country. */
  defaultCountry: string;
  /** Requests per minute; null means no limit. */
  rateLimitPerMinute: number | null;
  /**
   * A lead from this brand with the same normalised email or phone and the same service as
   * one received within this window is flagged `duplicate_of`; null turns detection off.
   */
  duplicateWindowMs: number | null;
  /** Leads without `consent.text` are refused (400 at /consent/text). */
  requireConsentText: boolean;
  /** Leads and everything attached are deleted this long after they were received. */
  retentionMs: number;
}

export interface BotProtection {
  /** The form field humans leave empty; its value arrives as `bot.honeypot`. */
  honeypot: string;
  /** A form sent sooner than this after `bot.form_shown_at` is a bot's; null = no time check. */
  minFillMs: number | null;
  captcha: CaptchaConfig | null;
}

export interface CaptchaConfig {
  provider: 'turnstile' | 'hcaptcha' | 'recaptcha';
  secret: string;
  /** The provider's siteverify URL (overridable for tests). */
  verifyUrl: string;
  /** reCAPTCHA v3: lowest score accepted; null = any. */
  minScore: number | null;
  timeoutMs: number;
  /** When siteverify cannot be reached: accept the lead marked `captcha: "unverified"`, or answer 503. */
  onUnavailable: 'accept' | 'reject';
}

export interface RetryPolicy {
  /** Delay before attempt 2, 3, …; attempts = 1 + delays.length. */
  delaysMs: number[];
}

export type DestinationAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | {
      type: 'oauth2';
      /** Client credentials grant (RFC 6749 §4.4). */
      tokenUrl: string;
      clientId: string;
      clientSecret: string;
      scope: string | null;
      audience: string | null;
    };

export interface CircuitBreakerPolicy {
  /** Legacy: open after this many retryable failures in a row; null uses the failure rate below. */
  consecutiveFailures: number | null;
  /** Open when more than this share (0..1, exclusive) of the requests in the window failed... */
  failureRate: number;
  /** ...and the window held at least this many requests. */
  minRequests: number;
  /** The sliding window the rate is measured over. */
  windowMs: number;
  /** How long it stays open before one probe is let through. */
  halfOpenAfterMs: number;
}

/** The breaker's defaults (see CircuitBreakers and the README). */
export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerPolicy = {
  consecutiveFailures: null,
  failureRate: 0.9,
  minRequests: 20,
  windowMs: 30_000,
  halfOpenAfterMs: 5_000,
};

export interface DestinationConfig {
  id: string;
  url: string;
  timeoutMs: number;
  /** `whsec_<base64>` secrets; each signs, all signatures are listed in webhook-signature (rotation). */
  signingSecrets: string[];
  headers: Record<string, string>;
  retry: RetryPolicy;
  /** `json` (default) or `form` (application/x-www-form-urlencoded, for older CRMs). */
  format: 'json' | 'form';
  /** A JSONata expression building the body from the default `lead.created` payload; null sends that payload. */
  transform: string | null;
  auth: DestinationAuth | null;
  /** Requests in flight at once to this destination; null = no limit beyond the worker's concurrency. */
  maxInFlight: number | null;
  /** Requests per second; null = no limit. */
  rateLimitPerSecond: number | null;
  circuitBreaker: CircuitBreakerPolicy;
  /** Which answers keep their (masked, 1 KiB) body in the attempt: non-2xx ones, or none. */
  storeResponseBody: 'errors' | 'none';
}

export interface RouteConfig {
  /** Brand ids, or ['*']. */
  brands: string[];
  /** Services, or ['*']. */
  services: string[];
  /** Postal codes, exact (`69001`) or by prefix (`75*`); null matches any lead, with or without one. */
  postalCodes: string[] | null;
  /** Consent flags the lead must carry with these values (e.g. marketing: true). */
  consent: { contact?: boolean; marketing?: boolean };
  /** Lead meta keys that must hold one of the listed values. */
  meta: Record<string, string[]>;
  destinations: string[];
  /** Whether a lead flagged `duplicate_of` is forwarded by this route. */
  forwardDuplicates: boolean;
}

export interface LeadgateConfig {
  brands: BrandConfig[];
  destinations: DestinationConfig[];
  routes: RouteConfig[];
}
