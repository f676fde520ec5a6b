import type { DestinationConfig } from '../domain/config.js';
import { requestBuildFailure, tokenFailure, transformFailure } from '../domain/delivery-decision.js';
import type { AttemptResult, Delivery } from '../domain/delivery.js';
import { isErased, type StoredLead } from '../domain/lead.js';
import { buildLeadCreatedPayload, buildOutboundRequest } from '../domain/outbound.js';
import type { Transforms } from '../domain/transforms.js';
import type { OutboundRequest } from '../ports/destination-client.js';
import type { TokenProvider } from '../ports/token-provider.js';

export interface PrepareInput {
  /** The lead, or its tombstone for a `lead.erased` notice. */
  lead: StoredLead;
  delivery: Delivery;
  destination: DestinationConfig;
  /** Epoch ms: the webhook timestamp and the payload's `timestamp`. */
  startedAt: number;
  transforms: Transforms;
  tokens: TokenProvider | undefined;
  userAgent: string;
  now: () => number;
  random: () => number;
}

export type Prepared =
  /** `accessToken` is the OAuth2 token the request carries, so a 401 can invalidate it. */
  | { kind: 'request'; request: OutboundRequest; accessToken: string | null }
  /** Nothing to send: this attempt's outcome is already decided. */
  | { kind: 'failed'; result: AttemptResult };

/**
 * transform → OAuth2 token → body, headers and signature. Never throws. A `lead.erased` notice
 * goes through the same path (auth, signing, retries) with its own fixed body: no transform.
 */
export async function prepareRequest(input: PrepareInput): Promise<Prepared> {
  const { lead, delivery, destination, startedAt } = input;
  const at = new Date(startedAt);

  // Only a notice may read a tombstone, and a notice only a tombstone: an erased lead's own
  // delivery that raced its erasure is never sent (the erasure cancelled it in the store).
  const notice = delivery.kind === 'lead.erased';
  if (notice !== isErased(lead)) {
    return { kind: 'failed', result: requestBuildFailure(delivery, startedAt, notice ? 'lead not erased' : 'lead erased') };
  }

  let payload: Record<string, unknown> | undefined;
  if (!isErased(lead) && input.transforms.has(destination.id)) {
    const transformed = await input.transforms.apply(destination.id, buildLeadCreatedPayload(lead, at));
    if (!transformed.ok) return { kind: 'failed', result: transformFailure(delivery, startedAt, transformed.error) };
    payload = transformed.value;
  }

  let accessToken: string | null = null;
  if (destination.auth?.type === 'oauth2') {
    if (!input.tokens) return { kind: 'failed', result: requestBuildFailure(delivery, startedAt, 'no oauth2 token provider') };
    const token = await input.tokens.getToken(destination.id, destination.auth, destination.timeoutMs);
    if (!token.ok) {
      const result = tokenFailure({
        delivery,
        policy: destination.retry,
        startedAt,
        now: input.now(),
        random: input.random,
        error: token.error,
        durationMs: token.durationMs,
      });
      return { kind: 'failed', result };
    }
    accessToken = token.accessToken;
  }

  try {
    const request = buildOutboundRequest(lead, destination, delivery.id, at, {
      userAgent: input.userAgent,
      payload,
      authorization: accessToken === null ? undefined : `Bearer ${accessToken}`,
    });
    return { kind: 'request', request, accessToken };
  } catch {
    // e.g. a malformed signing secret; its text is not echoed anywhere.
    return { kind: 'failed', result: requestBuildFailure(delivery, startedAt, 'request build failed') };
  }
}
