import { decideAttempt, requestBuildFailure } from '../domain/delivery-decision.js';
import { compileTransforms, type Transforms } from '../domain/transforms.js';
import type { LeadgateConfig } from '../domain/config.js';
import type { AttemptResult, Delivery } from '../domain/delivery.js';
import { isErased } from '../domain/lead.js';
import { storedResponseBody } from '../domain/response-body.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { DestinationClient } from '../ports/destination-client.js';
import type { JobHandler } from '../ports/job-queue.js';
import type { LeadStore } from '../ports/lead-store.js';
import type { TokenProvider } from '../ports/token-provider.js';
import { OPEN_GATE, type DeliveryGate } from './delivery-gate.js';
import { prepareRequest } from './prepare-request.js';
import { leadgateUserAgent } from './user-agent.js';

export interface DeliveryHandlerDeps {
  config: LeadgateConfig;
  store: LeadStore;
  client: DestinationClient;
  metrics: Metrics;
  logger: Logger;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  /** [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** Defaults to `leadgate/<package.json version>`. */
  userAgent?: string;
  /** OAuth2 access tokens; needed when a destination has `auth: {type: oauth2}`. */
  tokens?: TokenProvider;
  /** Compiled `transform:` expressions; compiled from the config when absent (once, here). */
  transforms?: Transforms;
  /** Pause, circuit breaker, max_in_flight and rate_limit (delivery-gate.ts); none when absent. */
  gate?: DeliveryGate;
}

/**
 * load → (due?) → build → send → decide → record. The job only names a delivery; the store
 * is the truth, so a duplicate or stale job finds the delivery finished and does nothing.
 * Store errors are not caught: the rejection makes the queue run the job again later.
 */
export function createDeliveryHandler(deps: DeliveryHandlerDeps): JobHandler {
  const { config, store, client, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const userAgent = deps.userAgent ?? leadgateUserAgent();
  const transforms = deps.transforms ?? compileTransforms(config.destinations);
  const gate = deps.gate ?? OPEN_GATE;

  // prom-client children per label set, so the hot path does not hash labels per delivery.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(value: number): void }>();
  const countOutcome = (destination: string, outcome: string) => {
    const key = `${destination}\u0000${outcome}`;
    let child = counted.get(key);
    if (!child) counted.set(key, (child = metrics.deliveries.labels({ destination, outcome })));
    child.inc();
  };
  const observeDuration = (destination: string, seconds: number) => {
    let child = timed.get(destination);
    if (!child) timed.set(destination, (child = metrics.deliveryDuration.labels({ destination })));
    child.observe(seconds);
  };

  async function finish(delivery: Delivery, result: AttemptResult): Promise<{ retryAt: number } | void> {
    const recorded = await store.recordAttempt(result);
    const { attempt } = result;
    countOutcome(delivery.destination, attempt.outcome);
    // The common case logs nothing at the default level: no fields object built for it.
    if (recorded && attempt.outcome === 'delivered' && !logger.isLevelEnabled('debug')) return;
    // Only ids, the destination, the status code and the fixed-vocabulary error: never lead data.
    const fields = {
      deliveryId: delivery.id,
      destination: delivery.destination,
      statusCode: attempt.statusCode,
      errorClass: attempt.errorClass,
      error: attempt.error,
      attempt: attempt.number,
      durationMs: attempt.durationMs,
    };
    if (!recorded) {
      // Another worker finished this delivery while we were sending (at-least-once at work).
      logger.debug(fields, 'delivery attempt not recorded: no longer pending');
      return;
    }
    if (attempt.outcome === 'delivered') {
      logger.debug(fields, 'delivery delivered');
      return;
    }
    if (attempt.outcome === 'retry' && result.nextAttemptAt !== null) {
      // An expected CRM failure: warn, with the status code, and say when we try again.
      logger.warn({ ...fields, nextAttemptAt: new Date(result.nextAttemptAt).toISOString() }, 'delivery attempt failed, will retry');
      return { retryAt: result.nextAttemptAt };
    }
    // Dead needs a human (fix the CRM or the config, then replay): error, so it pages.
    logger.error(fields, 'delivery dead');
  }

  return async (job) => {
    const delivery = job.preloaded?.delivery ?? (await store.getDelivery(job.deliveryId));
    if (!delivery || delivery.status !== 'pending') return;
    const startedAt = now();
    // The queue may hand a job early (a replayed or duplicated message): honour the store.
    if (delivery.nextAttemptAt !== null && delivery.nextAttemptAt > startedAt) {
      return { retryAt: delivery.nextAttemptAt };
    }
    const destination = config.destinations.find((d) => d.id === delivery.destination);
    if (!destination) return finish(delivery, requestBuildFailure(delivery, startedAt, 'unknown destination'));
    // Protecting the CRM (paused, breaker open): held before any work, no attempt spent.
    const heldUntil = await gate.holdUntil(destination);
    if (heldUntil !== null) return { retryAt: heldUntil };
    const lead = job.preloaded?.lead ?? (await store.getLead(delivery.leadId));
    // A store that lost the lead cannot be fixed by retrying; dead keeps it visible to ops.
    if (!lead) return finish(delivery, requestBuildFailure(delivery, startedAt, 'lead not found'));

    // transform (a failure is dead at once), OAuth2 token (a failure is retried), sign.
    const prepared = await prepareRequest({ lead, delivery, destination, startedAt, transforms, tokens: deps.tokens, userAgent, now, random });
    if (prepared.kind === 'failed') return finish(delivery, prepared.result);
    const { request, accessToken } = prepared;

    // Protecting the CRM: limits and breaker around the request; held = nothing sent, no attempt spent.
    const gated = await gate.send(destination, () => client.send(request));
    if (gated.kind === 'held') return { retryAt: gated.retryAt };
    // Data minimisation: a 2xx keeps no body, an error at most 1 KiB with personal data masked.
    const sent =
      gated.result.kind === 'response'
        ? {
            ...gated.result,
            body: storedResponseBody(gated.result.body, gated.result.statusCode, destination.storeResponseBody, isErased(lead) ? undefined : lead.contact) ?? '',
          }
        : gated.result;
    // A rejected token must not be reused: the next attempt fetches a new one.
    if (accessToken !== null && sent.kind === 'response' && sent.statusCode === 401) deps.tokens?.invalidate(destination.id, accessToken);
    observeDuration(destination.id, sent.durationMs / 1000);
    const result = decideAttempt({
      delivery,
      result: sent,
      policy: destination.retry,
      startedAt,
      now: now(),
      random,
      oauth2: accessToken !== null,
      probeRetryAt: gated.probeRetryAt,
    });
    return finish(delivery, result);
  };
}
