import type { Attempt, AttemptResult, Delivery, DeliveryStatus, NewDelivery } from '../domain/delivery.js';
import type { Lead, LeadStatus, StoredLead } from '../domain/lead.js';
import type { PrivacyStore } from './privacy-store.js';

/**
 * The record of truth: leads, deliveries, attempts and idempotency keys.
 * Every adapter passes test/contract/lead-store.contract.ts.
 */
export interface LeadStore extends PrivacyStore {
  /** Create or upgrade tables; idempotent. */
  migrate(): Promise<void>;

  /**
   * Persist a lead and its deliveries atomically, honouring the idempotency key if given.
   * Resolves only once the lead is durable.
   */
  ingest(command: IngestCommand): Promise<IngestResult>;

  /**
   * The id of the most recent lead stored with any of these fingerprints (see
   * domain/fingerprint.ts) and received at or after `since` (epoch ms), or null. Called before
   * routing, since a duplicate may be routed differently; so two duplicates ingested at the
   * same instant may both miss each other (accepted: the window is hours, the race is ms).
   */
  findDuplicate(fingerprints: string[], since: number): Promise<string | null>;

  /** The lead, or its tombstone once erased. */
  getLead(id: string): Promise<StoredLead | null>;
  getDelivery(id: string): Promise<Delivery | null>;
  listDeliveriesOfLead(leadId: string): Promise<Delivery[]>;
  listAttempts(deliveryId: string): Promise<Attempt[]>;
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryPage>;

  /**
   * Record an attempt and move the delivery on. Safe to run twice: a delivery that is no
   * longer pending is left as it is (returns false).
   */
  recordAttempt(result: AttemptResult): Promise<boolean>;

  /**
   * Make deliveries pending and due now again, keeping their ids; resets their retry
   * schedule. Returns the replayed deliveries (to be enqueued).
   */
  replay(selector: ReplaySelector): Promise<Delivery[]>;

  /** Pending deliveries due at or before `now`, oldest first (for the sweeper). */
  findDue(now: number, limit: number): Promise<Delivery[]>;

  /** Cluster-wide figures per destination, for metrics. */
  stats(): Promise<DestinationStats[]>;

  /**
   * Pause (true) or resume (false) deliveries to a destination, for every worker of the
   * cluster. Idempotent; a destination never paused counts as not paused. `actor` (who asked:
   * "console", "admin-api", "cli") is kept with the time, for destinationStates.
   */
  setDestinationPaused(destination: string, paused: boolean, actor?: string): Promise<void>;

  /** The destinations paused now, sorted. Workers read it often (cached ≤ 1 s), so it is small and cheap. */
  pausedDestinations(): Promise<string[]>;

  /**
   * Every destination ever paused or resumed, sorted by id: its state, when it last changed and
   * by whom (null when the change predates the record of actors).
   */
  destinationStates(): Promise<DestinationState[]>;

  /**
   * Leads of one brand, newest first by received_at (ties within a millisecond in an order of
   * the store's choosing, stable across pages), optionally of one status and received within
   * [since, until] (epoch ms, inclusive). Keyset pages like listDeliveries: the cursor of one
   * filter is not valid for another.
   */
  listLeads(filter: LeadFilter): Promise<LeadPage>;

  /** How many leads of a brand were received at or after `since` (epoch ms), per status. */
  countLeads(brand: string, since: number): Promise<LeadCounts>;

  /**
   * Attempts started at or after `since` (epoch ms), per destination and outcome: the console's
   * delivery rate and error share. Destinations without attempts in the window are absent.
   * DynamoDB keeps these as counters per minute beside the attempts: the minute holding `since`
   * counts whole, and an attempt whose counter update failed is recorded but not counted.
   */
  attemptCounts(since: number): Promise<AttemptCounts[]>;

  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface IngestCommand {
  lead: Lead;
  deliveries: NewDelivery[];
  idempotency?: {
    key: string;
    /** sha256 of the request body, to tell a retry from a reuse of the key. */
    bodyHash: string;
    /** Epoch ms after which the key may be used again. */
    expiresAt: number;
  };
  /**
   * Stored with the lead (in the same transaction) for later findDuplicate calls; only when
   * the brand has a duplicate window. `expiresAt` (epoch ms, received_at + window) lets the
   * store drop them once no lookup can reach them.
   */
  fingerprints?: {
    values: string[];
    expiresAt: number;
  };
  /** Identity hashes of the lead's email and phone (domain/fingerprint.ts): a person's leads are found by these. */
  identities?: string[];
  /** Epoch ms after which the lead and everything attached may be deleted (the brand's retention). */
  retainUntil?: number;
}

export type IngestResult =
  | { kind: 'created'; leadId: string }
  /** Same brand, key and body as an earlier request: nothing was created. */
  | { kind: 'replayed'; leadId: string }
  /** An earlier request with this key has not finished yet. */
  | { kind: 'in_flight' }
  /** The key was used with another body. */
  | { kind: 'key_reused' };

export interface DeliveryFilter {
  status?: DeliveryStatus;
  destination?: string;
  /** Last changed (updatedAt; for a dead delivery, when it died) at or after, epoch ms. */
  since?: number;
  /** Last changed at or before, epoch ms. */
  until?: number;
  /** 1..500 */
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
}

export interface DeliveryPage {
  items: Delivery[];
  nextCursor: string | null;
}

export type ReplaySelector =
  | { deliveryId: string }
  | { destination: string; status: 'dead'; since?: number; until?: number };

export interface DestinationStats {
  destination: string;
  pending: number;
  dead: number;
  /** Epoch ms of the oldest pending delivery's creation, or null. */
  oldestPendingCreatedAt: number | null;
}

export interface LeadFilter {
  brand: string;
  status?: LeadStatus;
  /** received_at at or after, epoch ms. */
  since?: number;
  /** received_at at or before, epoch ms. */
  until?: number;
  /** 1..500 */
  limit: number;
  /** Opaque, from a previous page's nextCursor. */
  cursor?: string;
}

export interface LeadPage {
  /** Erased leads are listed as their tombstones. */
  items: StoredLead[];
  nextCursor: string | null;
}

export type LeadCounts = Partial<Record<LeadStatus, number>>;

export interface AttemptCounts {
  destination: string;
  delivered: number;
  retry: number;
  dead: number;
}

export interface DestinationState {
  destination: string;
  paused: boolean;
  /** Epoch ms of the last pause or resume. */
  changedAt: number;
  /** Who paused or resumed it last ("console", "admin-api", "cli"), when known. */
  changedBy: string | null;
}

/** `DeliveryFilter.cursor` was not made by this store: a client error, not an outage. */
export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}
