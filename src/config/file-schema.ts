import { isSupportedCountry } from 'libphonenumber-js/max';
import jsonata from 'jsonata';
import { z } from 'zod';
import { DEFAULT_RETENTION, parseRetention } from '../domain/retention.js';
import { DEFAULT_RETRY_DELAYS, parseDuration } from '../domain/retry.js';

/** The YAML config file of CONTRACT.md, with snake_case keys as users write them. */

const id = z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+ (lowercase letters, digits, dashes)').max(64);

const duration = z.string().superRefine((value, ctx) => {
  try {
    parseDuration(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a duration with a unit, such as "250ms", "5s", "5m" or "2h"' });
  }
});

const retention = z.string().superRefine((value, ctx) => {
  try {
    parseRetention(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a duration of at least 1d, such as "90d" or "3y"' });
  }
});

const origin = z.string().superRefine((value, ctx) => {
  let ok = false;
  try {
    const url = new URL(value);
    ok = (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    ok = false;
  }
  if (!ok) ctx.addIssue({ code: 'custom', message: 'must be an origin such as "https://www.example.com" (no path, no trailing slash)' });
});

const signingSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]{16,}={0,2}$/, 'must be "whsec_" followed by a base64 secret of at least 12 bytes');

const httpUrl = z.string().superRefine((value, ctx) => {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return;
  } catch {
    // fall through
  }
  ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
});

/** A brand key is a bearer secret (or, publishable, a page's name tag): long enough not to be guessed. */
const brandKey = z.string().min(24, 'must be at least 24 characters (e.g. `openssl rand -hex 16`)');

const captcha = z
  .strictObject({
    provider: z.enum(['turnstile', 'hcaptcha', 'recaptcha']),
    secret: z.string().min(1, 'must not be empty'),
    verify_url: httpUrl.optional(),
    min_score: z.number().min(0).max(1).optional(),
    timeout: duration.optional(),
    on_unavailable: z.enum(['accept', 'reject']).default('accept'),
  })
  .superRefine((c, ctx) => {
    if (c.min_score !== undefined && c.provider !== 'recaptcha') {
      ctx.addIssue({ code: 'custom', path: ['min_score'], message: 'only reCAPTCHA v3 gives a score' });
    }
  });

const botProtection = z.strictObject({
  honeypot: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a form field name').default('website'),
  min_fill_seconds: z.number().min(0).max(3600).optional(),
  captcha: captcha.optional(),
});

const brand = z.strictObject({
  id,
  api_keys: z.array(brandKey).default([]),
  publishable_keys: z.array(brandKey).default([]),
  secret_keys_in_browser: z.boolean().default(false),
  per_ip: z
    .strictObject({ per_minute: z.number().int().min(1).default(30), secret_keys: z.boolean().default(false) })
    .default({ per_minute: 30, secret_keys: false }),
  bot_protection: botProtection.optional(),
  allowed_origins: z.array(origin).default([]),
  default_country: z
    .string()
    .refine((c) => isSupportedCountry(c), 'must be an ISO 3166-1 alpha-2 country code such as FR'),
  rate_limit: z.strictObject({ per_minute: z.number().int().min(1) }).optional(),
  duplicate_window: duration.optional(),
  require_consent_text: z.boolean().default(false),
  retention: retention.default(DEFAULT_RETENTION),
});

const secretString = z.string().min(1, 'must not be empty');

const auth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('basic'), username: secretString, password: secretString }),
  z.strictObject({ type: z.literal('bearer'), token: secretString }),
  z.strictObject({
    type: z.literal('oauth2'),
    token_url: httpUrl,
    client_id: secretString,
    client_secret: secretString,
    scope: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
  }),
]);

const jsonataExpression = z.string().superRefine((value, ctx) => {
  try {
    jsonata(value);
  } catch (err) {
    const { message, position } = err as { message?: string; position?: number };
    ctx.addIssue({ code: 'custom', message: `not a valid JSONata expression${position === undefined ? '' : ` at character ${position}`}: ${message ?? 'syntax error'}` });
  }
});

const destination = z.strictObject({
  id,
  url: httpUrl,
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  signing_secret: z.union([signingSecret, z.array(signingSecret).min(1)]).optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'header names are letters, digits and dashes'), z.string()).default({}),
  retry: z
    .strictObject({ delays: z.array(duration).max(50).default([...DEFAULT_RETRY_DELAYS]) })
    .default({ delays: [...DEFAULT_RETRY_DELAYS] }),
  format: z.enum(['json', 'form']).default('json'),
  transform: jsonataExpression.optional(),
  auth: auth.optional(),
  max_in_flight: z.number().int().min(1).max(10_000).optional(),
  rate_limit: z.strictObject({ per_second: z.number().positive().max(100_000) }).optional(),
  circuit_breaker: z
    .strictObject({
      // Legacy: open after this many failures in a row instead of on the failure rate.
      failures: z.number().int().min(1).max(1_000).optional(),
      failure_rate: z.number().gt(0).lt(1).default(0.9),
      min_requests: z.number().int().min(1).max(100_000).default(20),
      window: duration.default('30s'),
      half_open_after: duration.default('5s'),
    })
    .default({ failure_rate: 0.9, min_requests: 20, window: '30s', half_open_after: '5s' }),
  store_response_body: z.enum(['errors', 'none']).default('errors'),
});

const postalCode = z.string().regex(/^[A-Za-z0-9 -]{1,16}\*?$/, 'must be a postal code, or a prefix ending in * (e.g. "75*")');

const route = z.strictObject({
  brands: z.array(z.string().min(1)).min(1).default(['*']),
  services: z.array(z.string().min(1)).min(1).default(['*']),
  postal_codes: z.array(postalCode).min(1).optional(),
  consent: z.strictObject({ contact: z.boolean().optional(), marketing: z.boolean().optional() }).default({}),
  meta: z.record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)])).default({}),
  destinations: z.array(z.string().min(1)).min(1, 'needs at least one destination'),
  forward_duplicates: z.boolean().default(true),
});

export const configFileSchema = z
  .strictObject({
    brands: z.array(brand).min(1, 'needs at least one brand'),
    destinations: z.array(destination).default([]),
    routes: z.array(route).default([]),
  })
  .superRefine((file, ctx) => {
    const duplicate = (list: { id: string }[], key: string) => {
      const seen = new Set<string>();
      list.forEach((item, i) => {
        if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    };
    duplicate(file.brands, 'brands');
    duplicate(file.destinations, 'destinations');

    // A key names its brand (and its kind), so it must be unique across brands and kinds.
    const keys = new Set<string>();
    file.brands.forEach((b, i) => {
      if (b.api_keys.length + b.publishable_keys.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['brands', i, 'api_keys'], message: 'needs at least one key (api_keys or publishable_keys)' });
      }
      if (b.publishable_keys.length > 0 && b.allowed_origins.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['brands', i, 'allowed_origins'], message: 'publishable keys work only from listed origins: add at least one' });
      }
      for (const kind of ['api_keys', 'publishable_keys'] as const) {
        b[kind].forEach((k, j) => {
          if (keys.has(k)) ctx.addIssue({ code: 'custom', path: ['brands', i, kind, j], message: 'key is used twice' });
          keys.add(k);
        });
      }
    });

    const brandIds = new Set(file.brands.map((b) => b.id));
    const destinationIds = new Set(file.destinations.map((d) => d.id));
    file.routes.forEach((r, i) => {
      r.brands.forEach((b, j) => {
        if (b !== '*' && !brandIds.has(b)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'brands', j], message: `unknown brand "${b}"` });
      });
      r.destinations.forEach((d, j) => {
        if (!destinationIds.has(d)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'destinations', j], message: `unknown destination "${d}"` });
      });
    });
  });

export type ConfigFile = z.infer<typeof configFileSchema>;
