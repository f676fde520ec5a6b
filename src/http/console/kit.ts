import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LeadgateConfig } from '../../domain/config.js';
import type { StoredLead } from '../../domain/lead.js';
import type { Metrics } from '../../observability/metrics.js';
import type { JobQueue } from '../../ports/job-queue.js';
import type { LeadStore } from '../../ports/lead-store.js';
import type { RequestBudgets } from '../../ports/request-budgets.js';
import type { ErasureRequestResult, ErasureView, ExportResult, Invalid } from '../../privacy/requests.js';
import type { BreakerStateName } from '../routes/destinations.js';
import type { Html } from './html.js';
import type { ConsoleSessions } from './session.js';
import type { PageContext } from './views/layout.js';

/** What the console's parts share: its dependencies and a few helpers made once per console. */

/**
 * The privacy screen's functions over the privacy use cases (src/http/console/privacy-adapter.ts).
 * `identifier` is one field as typed: an email if it contains '@', else a phone; `brand` limits
 * to one brand. Without them the console has no privacy screen and its nav entry is hidden.
 */
export interface ConsolePrivacy {
  /** Whether the identifier is valid, and its normalised form (to compare two typings of it). */
  check(identifier: string, brand?: string): Invalid | { kind: 'ok'; key: string };
  exportPerson(identifier: string, brand?: string): Promise<ExportResult>;
  /** Records the erasure (the runner does it) and wakes this process's runner. */
  erasePerson(identifier: string, brand?: string): Promise<ErasureRequestResult>;
  erasureStatus(id: string): Promise<ErasureView | null>;
}

export type PersonLeads = Invalid | { kind: 'ok'; leads: StoredLead[] };

export interface ConsoleDeps {
  adminToken: string;
  config: LeadgateConfig;
  store: LeadStore;
  queue: JobQueue;
  metrics: Metrics;
  /** Failed sign-ins are counted per client IP here, with the admin API's. */
  budgets: RequestBudgets;
  breakerState?: (destinationId: string) => BreakerStateName;
  now: () => number;
  /** A person's leads by email or phone (the privacy index); absent: the search says "not available". */
  findLeadsByPerson?: (identifier: string) => Promise<PersonLeads>;
  privacy?: ConsolePrivacy;
}

export interface ConsoleKit {
  sessions: ConsoleSessions;
  /** The page context (CSRF token, nav) of a signed-in request. */
  context(request: FastifyRequest, notice?: PageContext['notice']): PageContext;
  send(reply: FastifyReply, body: Html, status?: number): FastifyReply;
  /** A store call whose failure is a 503 page, not a 500. */
  fromStore<T>(request: FastifyRequest, call: () => Promise<T>): Promise<T>;
}

/** A form field as one string (formbody may give arrays for repeated names). */
export function formField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

