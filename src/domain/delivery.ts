/** One delivery per lead and destination; it retries and dead-letters on its own. */

/** `cancelled`: its lead was erased before it was sent; never sent, never replayed. */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'cancelled';

/** What a delivery sends: the lead itself, or the notice that it was erased (GDPR art. 19). */
export type DeliveryKind = 'lead.created' | 'lead.erased';

export interface Delivery {
  /** Stable across retries and replays: sent as `webhook-id` so CRMs can drop duplicates. */
  id: string;
  leadId: string;
  destination: string;
  status: DeliveryStatus;
  /** Absent means `lead.created` (every delivery made at ingest). */
  kind?: DeliveryKind;
  /** Every attempt ever made, replays included. */
  attempts: number;
  /** Attempts since the delivery was created or last replayed: the position in the retry schedule. */
  cycleAttempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** Epoch ms; null once delivered or dead. */
  nextAttemptAt: number | null;
  deliveredAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** What the ingest path creates: the rest starts at its defaults (pending, due now). */
export interface NewDelivery {
  id: string;
  destination: string;
}

/** Why an attempt failed, as a closed set (see `classifyResponse`). */
export type ErrorClass =
  | 'http_status' // the destination answered a non-2xx status
  | 'timeout'
  | 'network'
  | 'request_build' // leadgate could not build the request (e.g. unknown destination)
  | 'transform' // the destination's transform failed on this lead (dead at once)
  | 'auth' // the OAuth2 token endpoint failed (retried)
  ;

export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface Attempt {
  deliveryId: string;
  /** 1-based, over the whole life of the delivery. */
  number: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  errorClass: ErrorClass | null;
  /** A short fixed-vocabulary message; never personal data. */
  error: string | null;
  /** At most 1 KiB of what the destination answered. */
  responseBody: string | null;
  outcome: AttemptOutcome;
}

/** How a delivery changes after an attempt. */
export interface AttemptResult {
  attempt: Attempt;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  /**
   * True for a failed circuit-breaker probe: recorded as an attempt, but the delivery keeps its
   * place in the retry schedule (cycleAttempts does not move), since the failure says the CRM
   * is still down, not that this lead cannot be delivered. Absent means false.
   */
  keepsSchedule?: boolean;
}
