import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { BUNDLED_EXAMPLE_PATH, loadConfigFile, parseConfigText } from '../../src/config/load-config.js';

const VALID = `
brands:
  - id: merciplus
    api_keys: ["\${MERCIPLUS_KEY}"]
    allowed_origins: ["https://www.merci-plus.example"]
    default_country: FR
    rate_limit: { per_minute: 6000 }
destinations:
  - id: crm-main
    url: http://127.0.0.1:9000/leads
    timeout_ms: 10000
    signing_secret: "\${CRM_MAIN_SECRET}"
    headers: { Authorization: "Bearer \${CRM_TOKEN}" }
    retry:
      delays: ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]
routes:
  - brands: ["*"]
    services: ["*"]
    destinations: [crm-main]
`;

const K = 'k-0123456789abcdefghijklmn';
const ENV = { MERCIPLUS_KEY: 'key-123-0123456789abcdefghij', CRM_MAIN_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', CRM_TOKEN: 'tok' };

function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV): string[] {
  try {
    parseConfigText(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config file', () => {
  it("parses the contract's example, substituting ${VAR}", () => {
    const config = parseConfigText(VALID, ENV);
    expect(config.brands[0]).toEqual({
      id: 'merciplus',
      apiKeys: ['key-123-0123456789abcdefghij'],
      publishableKeys: [],
      secretKeysInBrowser: false,
      perIp: { perMinute: 30, secretKeys: false },
      bot: null,
      allowedOrigins: ['https://www.merci-plus.example'],
      defaultCountry: 'FR',
      rateLimitPerMinute: 6000,
      duplicateWindowMs: null,
      requireConsentText: false,
      // CNIL's 3 years for prospects, the default.
      retentionMs: 3 * 365 * 86_400_000,
    });
    expect(config.destinations[0]).toMatchObject({
      id: 'crm-main',
      url: 'http://127.0.0.1:9000/leads',
      timeoutMs: 10000,
      signingSecrets: [ENV.CRM_MAIN_SECRET],
      headers: { Authorization: 'Bearer tok' },
      retry: { delaysMs: [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 36e6] },
    });
    expect(config.routes).toEqual([
      { brands: ['*'], services: ['*'], postalCodes: null, consent: {}, meta: {}, destinations: ['crm-main'], forwardDuplicates: true },
    ]);
  });

  it('reads retention (d, y; at least 1d), require_consent_text and store_response_body', () => {
    const config = parseConfigText(
      'brands: [{id: a, api_keys: [k-0123456789abcdefghijklmn], default_country: FR, retention: 90d, require_consent_text: true}]\n' +
        'destinations: [{id: d, url: "http://x/", store_response_body: none}, {id: e, url: "http://y/"}]',
      {},
    );
    expect(config.brands[0]).toMatchObject({ retentionMs: 90 * 86_400_000, requireConsentText: true });
    expect(config.destinations.map((d) => d.storeResponseBody)).toEqual(['none', 'errors']);
    expect(parseConfigText('brands: [{id: a, api_keys: [k-0123456789abcdefghijklmn], default_country: FR, retention: 2y}]', {}).brands[0]?.retentionMs).toBe(
      2 * 365 * 86_400_000,
    );
    const bad = problemsOf('brands: [{id: a, api_keys: [k-0123456789abcdefghijklmn], default_country: FR, retention: 12h}]\ndestinations: [{id: d, url: "http://x/", store_response_body: all}]');
    expect(bad).toEqual(
      expect.arrayContaining([expect.stringMatching(/^brands\[0\]\.retention: must be a duration of at least 1d/), expect.stringMatching(/^destinations\[0\]\.store_response_body: /)]),
    );
  });

  it('applies defaults: no rate limit, 10 s timeout, the default retry schedule', () => {
    const config = parseConfigText(
      'brands: [{id: a, api_keys: [k-0123456789abcdefghijklmn], default_country: FR}]\ndestinations: [{id: d, url: "http://x/"}]\nroutes: [{destinations: [d]}]',
      {},
    );
    expect(config.brands[0]?.rateLimitPerMinute).toBeNull();
    expect(config.brands[0]?.allowedOrigins).toEqual([]);
    expect(config.destinations[0]?.timeoutMs).toBe(10000);
    expect(config.destinations[0]?.retry.delaysMs).toHaveLength(7);
    expect(config.routes[0]).toMatchObject({ brands: ['*'], services: ['*'], destinations: ['d'] });
  });

  it('supports ${VAR:-default}', () => {
    const config = parseConfigText('brands: [{id: a, api_keys: ["${K:-fallback-0123456789abcdefghij}"], default_country: FR}]', {});
    expect(config.brands[0]?.apiKeys).toEqual(['fallback-0123456789abcdefghij']);
  });

  it('names every problem with its key, never the secret values', () => {
    const problems = problemsOf(
      `
brands:
  - id: Bad_Brand
    api_keys: ["\${MISSING_KEY}"]
    allowed_origins: ["https://ok.example/path"]
    default_country: XX
  - id: Bad_Brand
    api_keys: []
    default_country: FR
    colour: red
destinations:
  - id: crm
    url: ftp://nope
    signing_secret: "not-a-secret"
    retry: { delays: ["5 minutes"] }
routes:
  - brands: [ghost]
    destinations: [nowhere]
`,
      {},
    );
    const text = problems.join('\n');
    expect(text).toContain('brands[0].api_keys[0]: environment variable MISSING_KEY is not set');
    expect(text).toMatch(/^brands\[0\]\.id: must match/m);
    expect(text).toMatch(/^brands\[0\]\.allowed_origins\[0\]: must be an origin/m);
    expect(text).toMatch(/^brands\[0\]\.default_country: /m);
    expect(text).toMatch(/^brands\[1\]\.api_keys: needs at least one key/m);
    expect(text).toMatch(/^brands\[1\]: .*colour/m);
    expect(text).toMatch(/^destinations\[0\]\.url: must be an http\(s\) URL/m);
    expect(text).toMatch(/^destinations\[0\]\.signing_secret: /m);
    expect(text).toMatch(/^destinations\[0\]\.retry\.delays\[0\]: must be a duration/m);
    expect(text).toMatch(/^routes\[0\]\.brands\[0\]: unknown brand "ghost"/m);
    expect(text).toMatch(/^routes\[0\]\.destinations\[0\]: unknown destination "nowhere"/m);
  });

  it('rejects duplicate ids and keys shared by two brands', () => {
    const problems = problemsOf(
      'brands: [{id: a, api_keys: [k-0123456789abcdefghijklmn1], default_country: FR}, {id: a, api_keys: [k-0123456789abcdefghijklmn1], default_country: FR}]',
    ).join('\n');
    expect(problems).toContain('brands[1].id: duplicate id "a"');
    expect(problems).toContain('brands[1].api_keys[0]: key is used twice');
  });

  it('reports YAML syntax errors and unreadable files in one line', () => {
    expect(problemsOf('brands: [unclosed')[0]).toMatch(/not valid YAML/);
    expect(() => loadConfigFile('/nonexistent/leadgate.yaml')).toThrow(/cannot be read \(ENOENT\)/);
  });

  it('ships a bundled example that is valid with an empty environment', () => {
    const config = loadConfigFile(BUNDLED_EXAMPLE_PATH, {});
    expect(config.brands.map((b) => b.id)).toEqual(['merciplus']);
    // The demo CRM is served on the ops listener (default 9464), never the public one.
    expect(config.destinations[0]?.url).toBe('http://127.0.0.1:9464/demo/crm/leads');
    expect(config.brands[0]?.publishableKeys).toHaveLength(1);
  });

  it('refuses keys shorter than 24 characters, a brand without any key, and publishable keys without origins', () => {
    const problems = problemsOf(`
brands:
  - id: a
    api_keys: [short-key]
    default_country: FR
  - id: b
    default_country: FR
  - id: c
    publishable_keys: [c-publishable-0123456789abcdef]
    default_country: FR
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^brands\[0\]\.api_keys\[0\]: must be at least 24 characters/),
        expect.stringMatching(/^brands\[1\]\.api_keys: needs at least one key/),
        expect.stringMatching(/^brands\[2\]\.allowed_origins: publishable keys work only from listed origins/),
      ]),
    );
  });

  it('reads publishable keys, per-IP budgets and bot protection with their defaults', () => {
    const config = parseConfigText(
      `
brands:
  - id: a
    api_keys: [${K}]
    publishable_keys: [pk-0123456789abcdefghijklmn]
    allowed_origins: ["https://a.example"]
    default_country: FR
    per_ip: { per_minute: 12, secret_keys: true }
    bot_protection:
      min_fill_seconds: 2.5
      captcha: { provider: recaptcha, secret: s3cret, min_score: 0.5, on_unavailable: reject, timeout: 2s }
  - id: b
    api_keys: [${K}-b]
    default_country: FR
    bot_protection: { captcha: { provider: turnstile, secret: t } }
`,
      {},
    );
    expect(config.brands[0]).toMatchObject({
      publishableKeys: ['pk-0123456789abcdefghijklmn'],
      perIp: { perMinute: 12, secretKeys: true },
      bot: {
        honeypot: 'website',
        minFillMs: 2500,
        captcha: { provider: 'recaptcha', secret: 's3cret', verifyUrl: 'https://www.google.com/recaptcha/api/siteverify', minScore: 0.5, timeoutMs: 2000, onUnavailable: 'reject' },
      },
    });
    expect(config.brands[1]).toMatchObject({
      perIp: { perMinute: 30, secretKeys: false },
      bot: { minFillMs: null, captcha: { verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify', minScore: null, timeoutMs: 3000, onUnavailable: 'accept' } },
    });
    expect(problemsOf(`brands: [{id: a, api_keys: [${K}], default_country: FR, bot_protection: {captcha: {provider: hcaptcha, secret: x, min_score: 0.3}}}]`)).toEqual([
      'brands[0].bot_protection.captcha.min_score: only reCAPTCHA v3 gives a score',
    ]);
  });

  it('reads the delivery-engine keys: routing rules, transform, format, auth, limits, breaker, duplicates', () => {
    const config = parseConfigText(
      `
brands:
  - id: a
    api_keys: [k-0123456789abcdefghijklmn]
    default_country: FR
    duplicate_window: 24h
destinations:
  - id: legacy
    url: http://crm.example/form
    format: form
    transform: '{ "nom": data.contact.last_name, "tel": data.contact.phone }'
    auth: { type: basic, username: u, password: "\${PW}" }
    max_in_flight: 4
    rate_limit: { per_second: 10 }
    circuit_breaker: { failures: 3, half_open_after: 10s }
  - id: api
    url: https://api.example/leads
    auth: { type: oauth2, token_url: "https://auth.example/token", client_id: id, client_secret: s, scope: leads.write }
routes:
  - postal_codes: ["75*", "92*", "69001"]
    consent: { marketing: true }
    meta: { campaign: [tv, radio], lang: fr }
    forward_duplicates: false
    destinations: [legacy, api]
`,
      { PW: 'secret' },
    );
    expect(config.brands[0]?.duplicateWindowMs).toBe(86_400_000);
    expect(config.destinations[0]).toMatchObject({
      format: 'form',
      transform: '{ "nom": data.contact.last_name, "tel": data.contact.phone }',
      auth: { type: 'basic', username: 'u', password: 'secret' },
      maxInFlight: 4,
      rateLimitPerSecond: 10,
      circuitBreaker: { consecutiveFailures: 3, halfOpenAfterMs: 10_000 },
    });
    expect(config.destinations[1]).toMatchObject({
      format: 'json',
      transform: null,
      maxInFlight: null,
      rateLimitPerSecond: null,
      // The defaults: failure rate over a window, not consecutive failures.
      circuitBreaker: { consecutiveFailures: null, failureRate: 0.9, minRequests: 20, windowMs: 30_000, halfOpenAfterMs: 5_000 },
      auth: { type: 'oauth2', tokenUrl: 'https://auth.example/token', clientId: 'id', clientSecret: 's', scope: 'leads.write', audience: null },
    });
    expect(config.routes[0]).toEqual({
      brands: ['*'],
      services: ['*'],
      postalCodes: ['75*', '92*', '69001'],
      consent: { marketing: true },
      meta: { campaign: ['tv', 'radio'], lang: ['fr'] },
      destinations: ['legacy', 'api'],
      forwardDuplicates: false,
    });
  });

  it('names a bad JSONata expression and a bad auth block', () => {
    const problems = problemsOf(`
brands: [{ id: a, api_keys: [k-0123456789abcdefghijklmn], default_country: FR }]
destinations:
  - id: d
    url: http://x/
    transform: '{ "a": data.contact.'
    auth: { type: digest, user: x }
    format: xml
routes:
  - postal_codes: ["7 5 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1"]
    destinations: [d]
`).join('\n');
    expect(problems).toMatch(/^destinations\[0\]\.transform: not a valid JSONata expression/m);
    expect(problems).toMatch(/^destinations\[0\]\.auth(\.type)?: /m);
    expect(problems).toMatch(/^destinations\[0\]\.format: /m);
    expect(problems).toMatch(/^routes\[0\]\.postal_codes\[0\]: must be a postal code/m);
  });

  it('reads the failure-rate breaker keys and names bad ones', () => {
    const config = parseConfigText(
      VALID.replace('    retry:', '    circuit_breaker: { failure_rate: 0.5, min_requests: 50, window: 1m, half_open_after: 10s }\n    retry:'),
      ENV,
    );
    expect(config.destinations[0]!.circuitBreaker).toEqual({ consecutiveFailures: null, failureRate: 0.5, minRequests: 50, windowMs: 60_000, halfOpenAfterMs: 10_000 });
    const problems = problemsOf(VALID.replace('    retry:', '    circuit_breaker: { failure_rate: 1, min_requests: 0, window: soon }\n    retry:')).join('\n');
    expect(problems).toMatch(/^destinations\[0\]\.circuit_breaker\.failure_rate: /m);
    expect(problems).toMatch(/^destinations\[0\]\.circuit_breaker\.min_requests: /m);
    expect(problems).toMatch(/^destinations\[0\]\.circuit_breaker\.window: /m);
  });
});
