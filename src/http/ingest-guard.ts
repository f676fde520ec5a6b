import type { FastifyRequest } from 'fastify';
import type { BrandConfig } from '../domain/config.js';
import { truncateIp } from '../domain/client-ip.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestBudgets } from '../ports/request-budgets.js';
import { presentedKey, type KeyKind, type ResolvedKey } from './auth.js';
import { HttpError } from './http-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The brand the key named; set by the ingest guard of `POST /v1/leads`. */
    brand: BrandConfig | null;
    /** Which kind of key named it. */
    keyKind: KeyKind | null;
  }
}

export interface IngestGuardDeps {
  resolveKey: (key: string) => ResolvedKey | null;
  budgets: RequestBudgets;
  /** Per client IP: requests per minute with a missing or unknown key. */
  unknownKeyPerMinute: number;
  metrics: Metrics;
}

type Budget = 'ip_publishable' | 'ip_secret' | 'ip_unknown_key' | 'brand';

const forbidden = (message: string) => new HttpError(403, 'origin_not_allowed', message);

/**
 * Who may submit, before anything is parsed (CONTRACT.md, second round):
 * - a missing or unknown key spends the client IP's small budget, then 401 (429 once spent:
 *   guessing keys is slow);
 * - a publishable key spends its client IP's budget (bad requests included, so one client
 *   cannot use up a brand's budget for everyone) and works only from a listed Origin;
 * - a secret key is for servers: from a browser origin it is refused unless the brand allows it,
 *   and it is limited per IP only when the brand asks;
 * - the brand's own budget is checked here and spent only by accepted leads (see the route).
 */
export function createIngestGuard(deps: IngestGuardDeps): (request: FastifyRequest) => Promise<void> {
  const { budgets, metrics } = deps;

  const spend = async (budget: Budget, key: string, perMinute: number): Promise<void> => {
    const waitMs = await budgets.spend(key, perMinute);
    if (waitMs !== null) throw rateLimited(budget, waitMs);
  };
  const rateLimited = (budget: Budget, waitMs: number): HttpError => {
    metrics.budgetRejections.inc({ budget });
    return new HttpError(429, 'rate_limited', 'Too many requests, retry later', undefined, {
      'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
    });
  };

  return async function guardIngest(request) {
    const key = presentedKey(request);
    const resolved = key === null ? null : deps.resolveKey(key);
    const ip = request.ip;
    if (resolved === null) {
      await spend('ip_unknown_key', `ip:unknown-key:${ip}`, deps.unknownKeyPerMinute);
      // At most unknownKeyPerMinute lines per IP and minute; never the key itself.
      request.log.warn({ ip: truncateIp(ip), keyPresent: key !== null }, 'unknown api key');
      throw new HttpError(401, 'unauthorized', 'Missing or unknown API key');
    }
    const { brand, kind } = resolved;
    request.brand = brand;
    request.keyKind = kind;
    const origin = request.headers.origin;

    if (kind === 'publishable') {
      await spend('ip_publishable', `ip:pk:${brand.id}:${ip}`, brand.perIp.perMinute);
      if (origin === undefined || !brand.allowedOrigins.includes(origin)) {
        throw forbidden('A publishable key works only from one of the brand’s allowed origins');
      }
    } else {
      if (brand.perIp.secretKeys) await spend('ip_secret', `ip:sk:${brand.id}:${ip}`, brand.perIp.perMinute);
      // No Origin: a server-to-server call (PHP back end), which CORS does not concern.
      if (origin !== undefined) {
        if (!brand.secretKeysInBrowser) {
          request.log.warn({ brand: brand.id }, 'secret api key sent from a browser origin');
          throw forbidden('A secret key must not be used from a web page: use a publishable key');
        }
        if (!brand.allowedOrigins.includes(origin)) throw forbidden('This origin may not submit leads for this brand');
      }
    }

    if (brand.rateLimitPerMinute !== null) {
      const waitMs = await budgets.check(`brand:${brand.id}`, brand.rateLimitPerMinute);
      if (waitMs !== null) throw rateLimited('brand', waitMs);
    }
  };
}
