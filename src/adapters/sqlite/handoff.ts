import type { Delivery } from '../../domain/delivery.js';
import type { Lead } from '../../domain/lead.js';

/** A delivery the api just committed, leased to this process's worker, with its lead. */
export interface HandedOff {
  delivery: Delivery;
  lead: Lead;
  /** The lease written with the insert (lease_until): the token the queue releases with. */
  lease: number;
}

/** One ingest's claim on the hand-off, made inside its transaction (which may run twice). */
export interface HandoffTicket {
  lease: number | null;
  count: number;
}

/**
 * What the SQLite queue's consumer needs of a hand-off: this process's `SqliteHandoff`, or, in
 * `leadgate serve`'s worker thread, its end of the port to the api thread's (handoff-port.ts).
 */
export interface HandoffSource {
  /** Starts receiving committed deliveries; `leaseMs` is the consumer's lease length. */
  attach(consumer: (items: HandedOff[]) => void, leaseMs: number): void;
  detach(): void;
  /** The consumer is done with `count` handed-off deliveries (finished, or given back to the table). */
  finished(count?: number): void;
}

/**
 * The link between the SQLite store's ingest and the SQLite queue's consumer in the same process
 * (`leadgate serve`): the ingest writes its deliveries already leased (lease_until set, in the same
 * transaction as the insert) and, once COMMIT returned, passes them with the lead straight to the
 * worker, which neither reads them back nor claims them with another write. The lease is what
 * keeps this safe: if the process dies before the worker finishes, the rows' leases expire and
 * the table claim takes them like any other (kill -9 loses nothing). Nothing is handed off when no
 * worker consumes in this process, or while `bound` deliveries already wait or run: those are
 * written unleased and go through the table as before.
 */
export class SqliteHandoff implements HandoffSource {
  private consumer: ((items: HandedOff[]) => void) | null = null;
  private leaseMs = 30_000;
  /** Reserved by ingests in flight plus handed off and not yet finished. */
  private outstanding = 0;

  constructor(private readonly bound = 512) {}

  /** The queue's consumer: receives committed deliveries; `leaseMs` is its lease length. */
  attach(consumer: (items: HandedOff[]) => void, leaseMs: number): void {
    this.consumer = consumer;
    this.leaseMs = leaseMs;
  }

  detach(): void {
    this.consumer = null;
  }

  newTicket(): HandoffTicket {
    return { lease: null, count: 0 };
  }

  /**
   * Inside the ingest's transaction: the lease to write on its `count` deliveries, or null to
   * write them unleased. Idempotent per ticket, since a batch may run twice (database.ts).
   */
  reserve(ticket: HandoffTicket, count: number, now: number): number | null {
    if (ticket.lease !== null) return ticket.lease;
    if (!this.consumer || count === 0 || this.outstanding + count > this.bound) return null;
    this.outstanding += count;
    ticket.lease = now + this.leaseMs;
    ticket.count = count;
    return ticket.lease;
  }

  /** After COMMIT: hand the deliveries over. */
  committed(ticket: HandoffTicket, items: () => HandedOff[]): void {
    if (ticket.lease === null) return;
    const consumer = this.consumer;
    if (!consumer) {
      // Detached meanwhile (stopping): the leases expire and the table claim takes them.
      this.finished(ticket.count);
      return;
    }
    consumer(items());
  }

  /** The transaction failed: nothing was written, give the reservation back. */
  cancelled(ticket: HandoffTicket): void {
    if (ticket.lease !== null) this.finished(ticket.count);
    ticket.lease = null;
  }

  /** The worker is done with `count` handed-off deliveries (finished, or given back to the table). */
  finished(count = 1): void {
    this.outstanding = Math.max(0, this.outstanding - count);
  }

  /** A consumer is attached: new deliveries are handed off (within the bound). */
  get attached(): boolean {
    return this.consumer !== null;
  }

  /** Reserved or handed off and not yet finished. */
  get size(): number {
    return this.outstanding;
  }
}
