import { DEFAULT_CIRCUIT_BREAKER, type BrandConfig, type CircuitBreakerPolicy, type DestinationConfig, type LeadgateConfig, type RouteConfig } from '../../src/domain/config.js';

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

type DestinationOverrides = Omit<Partial<DestinationConfig>, 'circuitBreaker'> & Pick<DestinationConfig, 'id' | 'url'> & { circuitBreaker?: Partial<CircuitBreakerPolicy> };

export function destination(overrides: DestinationOverrides): DestinationConfig {
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
    storeResponseBody: 'errors',
    ...overrides,
    circuitBreaker: { ...DEFAULT_CIRCUIT_BREAKER, ...overrides.circuitBreaker },
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
