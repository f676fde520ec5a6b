import type { Attempt, Delivery } from '../domain/delivery.js';
import type { StoredLead } from '../domain/lead.js';
import type { LeadStore } from '../ports/lead-store.js';

/**
 * The views of a lead, its deliveries and attempts, shared by the admin API, `leadgate lead show`,
 * the console and the privacy export: snake_case JSON with ISO dates, like the forwarded payload.
 */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function deliveryView(d: Delivery) {
  return {
    id: d.id,
    lead_id: d.leadId,
    destination: d.destination,
    status: d.status,
    kind: d.kind ?? 'lead.created',
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    next_attempt_at: iso(d.nextAttemptAt),
    delivered_at: iso(d.deliveredAt),
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
  };
}

export function attemptView(a: Attempt) {
  return {
    number: a.number,
    started_at: iso(a.startedAt),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error_class: a.errorClass,
    error: a.error,
    response_body: a.responseBody,
    outcome: a.outcome,
  };
}

export function leadView(lead: StoredLead, deliveries: Array<{ delivery: Delivery; attempts: Attempt[] }>) {
  return {
    ...lead,
    deliveries: deliveries.map(({ delivery, attempts }) => ({
      ...deliveryView(delivery),
      history: attempts.map(attemptView),
    })),
  };
}

/** A lead with its deliveries and their attempts, as the admin API and `leadgate lead show` print it. */
export async function readLeadView(store: LeadStore, id: string): Promise<ReturnType<typeof leadView> | null> {
  const lead = await store.getLead(id);
  if (lead === null) return null;
  const list = await store.listDeliveriesOfLead(id);
  const deliveries = await Promise.all(
    list.map(async (delivery) => ({ delivery, attempts: await store.listAttempts(delivery.id) })),
  );
  return leadView(lead, deliveries);
}
