import type { BrandConfig, DestinationConfig, LeadgateConfig, RouteConfig } from '../../src/domain/config.js';

/** Config objects for tests: the defaults the config file would give, overridden field by field. */

export function brand(overrides: Partial<BrandConfig> & Pick<BrandConfig, 'id'>): BrandConfig {
  return {
    apiKeys: [`${overrides.id}-secret-key-0123456789`],
    publishableKeys: [],
    secretKeysInBrowser: false,
    perIp: { perMinute: 30, secretKeys: false },
    bot: null,
    allowedOrigins: [],
    defaultCountry: 'FR',
    rateLimitPerMinute: null,
    duplicateWindowMs: null,
    requireConsentText: false,
    retentionMs: 3 * 365 * 86_400_000,
    ...overrides,
  };
}

export function destination(overrides: Partial<DestinationConfig> & Pick<DestinationConfig, 'id' | 'url'>): DestinationConfig {
  return {
    timeoutMs: 10_000,
    signingSecrets: [],
    headers: {},
    retry: { delaysMs: [5_000, 300_000] },
    format: 'json',
    transform: null,
    auth: null,
    maxInFlight: null,
    rateLimitPerSecond: null,
    circuitBreaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
    storeResponseBody: 'errors',
    ...overrides,
  };
}

export function route(overrides: Partial<RouteConfig> & Pick<RouteConfig, 'destinations'>): RouteConfig {
  return {
    brands: ['*'],
    services: ['*'],
    postalCodes: null,
    consent: {},
    meta: {},
    forwardDuplicates: true,
    ...overrides,
  };
}

export function config(parts: Partial<LeadgateConfig>): LeadgateConfig {
  return { brands: [], destinations: [], routes: [], ...parts };
}
