/** The validated configuration the rest of leadgate works with (see src/config for parsing). */

export interface BrandConfig {
  id: string;
  apiKeys: string[];
  allowedOrigins: string[];
  /** ISO 3166-1 alpha-2, for phone numbers written without +country. */
  defaultCountry: string;
  /** Requests per minute; null means no limit. */
  rateLimitPerMinute: number | null;
}

export interface RetryPolicy {
  /** Delay before attempt 2, 3, …; attempts = 1 + delays.length. */
  delaysMs: number[];
}

export interface DestinationConfig {
  id: string;
  url: string;
  timeoutMs: number;
  /** `whsec_<base64>` secrets; the first one signs, all are listed in webhook-signature. */
  signingSecrets: string[];
  headers: Record<string, string>;
  retry: RetryPolicy;
}

export interface RouteConfig {
  /** Brand ids, or ['*']. */
  brands: string[];
  /** Services, or ['*']. */
  services: string[];
  destinations: string[];
}

export interface LeadgateConfig {
  brands: BrandConfig[];
  destinations: DestinationConfig[];
  routes: RouteConfig[];
}
