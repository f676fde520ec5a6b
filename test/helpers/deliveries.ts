import type { Delivery } from '../../src/domain/delivery.js';

/** A pending delivery, due at `now`, created a second before; fields overridden as needed. */
export function pendingDelivery(now: number, overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: 'dlv_1',
    leadId: 'lead_1',
    destination: 'crm',
    status: 'pending',
    attempts: 0,
    cycleAttempts: 0,
    lastStatusCode: null,
    lastError: null,
    nextAttemptAt: now,
    deliveredAt: null,
    createdAt: now - 1_000,
    updatedAt: now - 1_000,
    ...overrides,
  };
}
