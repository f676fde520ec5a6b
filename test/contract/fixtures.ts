import { v7 as uuidv7 } from 'uuid';
import type { AttemptResult, DeliveryStatus } from '../../src/domain/delivery.js';
import type { Lead } from '../../src/domain/lead.js';
import type { IngestCommand, LeadStore } from '../../src/ports/lead-store.js';

/** Test data and waiting helpers shared by the contract suites. */

export function makeLead(overrides: Partial<Lead> = {}): Lead {
  return {
    id: uuidv7(),
    brand: 'merciplus',
    received_at: new Date(Date.now() - 1_000).toISOString(),
    status: 'routed',
    contact: { first_name: 'Camille', email: 'camille.martin@example.fr', phone: '+33612345678' },
    service: 'menage',
    message: 'Devis pour 3 h de ménage par semaine',
    ...overrides,
  };
}

export function makeIngest(
  destinations: string[],
  options: { lead?: Partial<Lead>; key?: string; bodyHash?: string; expiresAt?: number } = {},
): IngestCommand {
  const command: IngestCommand = {
    lead: makeLead(options.lead),
    deliveries: destinations.map((destination) => ({ id: uuidv7(), destination })),
  };
  if (options.key !== undefined) {
    command.idempotency = {
      key: options.key,
      bodyHash: options.bodyHash ?? 'hash-a',
      expiresAt: options.expiresAt ?? Date.now() + 86_400_000,
    };
  }
  return command;
}

/** What the delivery engine records after one attempt. */
export function attemptResult(
  deliveryId: string,
  number: number,
  status: Exclude<DeliveryStatus, 'cancelled'>,
  nextAttemptAt: number | null = null,
): AttemptResult {
  const ok = status === 'delivered';
  return {
    attempt: {
      deliveryId,
      number,
      startedAt: Date.now() - 20,
      durationMs: 12,
      statusCode: ok ? 200 : 503,
      errorClass: ok ? null : 'http_status',
      error: ok ? null : 'http 503',
      responseBody: ok ? '{"ok":true}' : 'unavailable',
      outcome: status === 'pending' ? 'retry' : status,
    },
    status,
    nextAttemptAt: status === 'pending' ? nextAttemptAt : null,
  };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Every page of a listDeliveries filter, following cursors (at most 500 pages). */
export async function listAll(
  store: LeadStore,
  filter: { status?: DeliveryStatus; destination?: string },
  limit: number,
): Promise<{ ids: string[]; pages: number; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listDeliveries({ ...filter, limit, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((d) => d.id));
    sizes.push(page.items.length);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && sizes.length < 500);
  return { ids, pages: sizes.length, sizes };
}
