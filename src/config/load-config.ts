import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { BotProtection, DestinationAuth, LeadgateConfig } from '../domain/config.js';
import { parseRetention } from '../domain/retention.js';
import { parseDuration } from '../domain/retry.js';
import { ConfigError, formatPath } from './config-error.js';
import { configFileSchema, type ConfigFile } from './file-schema.js';
import { substituteEnv, type SubstitutionProblem } from './substitute.js';

export const BUNDLED_EXAMPLE_PATH = fileURLToPath(new URL('../../config/leadgate.example.yaml', import.meta.url));

export interface ConfigSource {
  path: string;
  /** True when neither LEADGATE_CONFIG nor ./leadgate.yaml exists: the demo set-up. */
  isBundledExample: boolean;
}

/**
 * LEADGATE_CONFIG, else ./leadgate.yaml, else, only when the demo was asked for
 * (`leadgate serve --demo`), the bundled example (CONTRACT.md). Fails closed: a production
 * process never starts on the demo's public keys by accident.
 */
export function resolveConfigPath(explicit: string | undefined, options: { demo?: boolean; cwd?: string } = {}): ConfigSource {
  if (explicit) return { path: explicit, isBundledExample: false };
  const local = `${options.cwd ?? process.cwd()}/leadgate.yaml`;
  if (existsSync(local)) return { path: local, isBundledExample: false };
  if (options.demo === true) return { path: BUNDLED_EXAMPLE_PATH, isBundledExample: true };
  throw new ConfigError([
    'LEADGATE_CONFIG: no config file (set LEADGATE_CONFIG or create ./leadgate.yaml; `leadgate serve --demo` runs the bundled example)',
  ]);
}

/** Reads, substitutes and validates a config file; throws ConfigError naming every problem. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LeadgateConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`config file ${path}: cannot be read (${code})`]);
  }
  return parseConfigText(text, env, path);
}

export function parseConfigText(text: string, env: NodeJS.ProcessEnv, label = 'config'): LeadgateConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new ConfigError([`${label}: not valid YAML: ${first}`]);
  }
  const missing: SubstitutionProblem[] = [];
  const substituted = substituteEnv(raw ?? {}, env, missing);
  const problems = missing.map((m) => `${formatPath(m.path)}: environment variable ${m.variable} is not set`);

  const result = configFileSchema.safeParse(substituted);
  if (!result.success) {
    problems.push(...result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return toDomain(result.data);
}

type FileAuth = NonNullable<ConfigFile['destinations'][number]['auth']>;

function toAuth(auth: FileAuth | undefined): DestinationAuth | null {
  if (auth === undefined) return null;
  if (auth.type !== 'oauth2') return auth;
  return {
    type: 'oauth2',
    tokenUrl: auth.token_url,
    clientId: auth.client_id,
    clientSecret: auth.client_secret,
    scope: auth.scope ?? null,
    audience: auth.audience ?? null,
  };
}

/** Each provider's siteverify endpoint (their documented server-side check). */
const SITEVERIFY_URLS = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
} as const;

function toBotProtection(bot: ConfigFile['brands'][number]['bot_protection']): BotProtection | null {
  if (bot === undefined) return null;
  const c = bot.captcha;
  return {
    honeypot: bot.honeypot,
    minFillMs: bot.min_fill_seconds === undefined ? null : bot.min_fill_seconds * 1000,
    captcha:
      c === undefined
        ? null
        : {
            provider: c.provider,
            secret: c.secret,
            verifyUrl: c.verify_url ?? SITEVERIFY_URLS[c.provider],
            minScore: c.min_score ?? null,
            timeoutMs: c.timeout === undefined ? 3_000 : parseDuration(c.timeout),
            onUnavailable: c.on_unavailable,
          },
  };
}

function toDomain(file: ConfigFile): LeadgateConfig {
  const secrets = (s: string | string[] | undefined) => (s === undefined ? [] : Array.isArray(s) ? s : [s]);
  return {
    brands: file.brands.map((b) => ({
      id: b.id,
      apiKeys: b.api_keys,
      publishableKeys: b.publishable_keys,
      secretKeysInBrowser: b.secret_keys_in_browser,
      perIp: { perMinute: b.per_ip.per_minute, secretKeys: b.per_ip.secret_keys },
      bot: toBotProtection(b.bot_protection),
      allowedOrigins: b.allowed_origins,
      defaultCountry: b.default_country,
      rateLimitPerMinute: b.rate_limit?.per_minute ?? null,
      duplicateWindowMs: b.duplicate_window === undefined ? null : parseDuration(b.duplicate_window),
      requireConsentText: b.require_consent_text,
      retentionMs: parseRetention(b.retention),
    })),
    destinations: file.destinations.map((d) => ({
      id: d.id,
      url: d.url,
      timeoutMs: d.timeout_ms,
      signingSecrets: secrets(d.signing_secret),
      headers: d.headers,
      retry: { delaysMs: d.retry.delays.map(parseDuration) },
      format: d.format,
      transform: d.transform ?? null,
      auth: toAuth(d.auth),
      maxInFlight: d.max_in_flight ?? null,
      rateLimitPerSecond: d.rate_limit?.per_second ?? null,
      circuitBreaker: {
        consecutiveFailures: d.circuit_breaker.failures ?? null,
        failureRate: d.circuit_breaker.failure_rate,
        minRequests: d.circuit_breaker.min_requests,
        windowMs: parseDuration(d.circuit_breaker.window),
        halfOpenAfterMs: parseDuration(d.circuit_breaker.half_open_after),
      },
      storeResponseBody: d.store_response_body,
    })),
    routes: file.routes.map((r) => ({
      brands: r.brands,
      services: r.services,
      postalCodes: r.postal_codes ?? null,
      consent: r.consent,
      meta: Object.fromEntries(Object.entries(r.meta).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
      destinations: r.destinations,
      forwardDuplicates: r.forward_duplicates,
    })),
  };
}
