import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Attempt, AttemptResult, Delivery } from '../../domain/delivery.js';
import type { StoredLead } from '../../domain/lead.js';
import type { Erasure, ErasureStep, NewErasure, PrivacyAuditEntry, PurgeCounts } from '../../ports/privacy-store.js';
import type {
  AttemptCounts,
  DeliveryFilter,
  DeliveryPage,
  DestinationState,
  DestinationStats,
  IngestCommand,
  IngestResult,
  LeadCounts,
  LeadFilter,
  LeadPage,
  LeadStore,
  ReplaySelector,
} from '../../ports/lead-store.js';
import * as ops from './ops-queries.js';
import { tableNames, type DynamoContext } from './context.js';
import { recordAttempt, replay } from './delivery-writes.js';
import { guard } from './errors.js';
import { findDuplicate } from './fingerprints.js';
import { ingest } from './ingest.js';
import { listDeliveries } from './listing.js';
import { migrateTables } from './migrate.js';
import { backfillDestStatusShard } from './migrate-dest-status-shard.js';
import * as privacy from './privacy.js';
import * as queries from './queries.js';
import { DestinationRegistry } from './registry.js';

export interface DynamoLeadStoreOptions {
  /** Owned by the store from now on: close() destroys it. */
  client: DynamoDBClient;
  /** Tables are named `<prefix>-leads`, `<prefix>-deliveries`... (DYNAMODB_TABLE_PREFIX). */
  tablePrefix: string;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * LeadStore on DynamoDB, for many api and worker instances sharing one store. Tables and
 * indexes: migrations/dynamodb/tables.json. Every error it throws is an InvalidCursorError or a
 * DynamoStoreError whose message names the operation and error kind, never data.
 */
export class DynamoLeadStore implements LeadStore {
  private readonly ctx: DynamoContext;
  private readonly client: DynamoDBClient;
  private readonly registry: DestinationRegistry;

  constructor(options: DynamoLeadStoreOptions) {
    this.client = options.client;
    this.ctx = {
      // removeUndefinedValues: optional fields are simply absent (nulls are never stored, see items.ts).
      doc: DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } }),
      tables: tableNames(options.tablePrefix),
      now: options.now ?? Date.now,
    };
    this.registry = new DestinationRegistry(this.ctx);
  }

  migrate(): Promise<void> {
    return guard('migrate', async () => {
      await migrateTables(this.client, this.ctx.tables);
      // Once the new index is ACTIVE: give older deliveries its key (a no-op once done).
      await backfillDestStatusShard(this.ctx);
    });
  }

  ingest(command: IngestCommand): Promise<IngestResult> {
    return guard('ingest', async () => {
      await this.registry.ensure(command.deliveries.map((d) => d.destination));
      return ingest(this.ctx, command);
    });
  }

  findDuplicate(fingerprints: string[], since: number): Promise<string | null> {
    return guard('findDuplicate', () => findDuplicate(this.ctx, fingerprints, since));
  }

  getLead(id: string): Promise<StoredLead | null> {
    return guard('getLead', () => queries.getLead(this.ctx, id));
  }

  getDelivery(id: string): Promise<Delivery | null> {
    return guard('getDelivery', () => queries.getDelivery(this.ctx, id));
  }

  listDeliveriesOfLead(leadId: string): Promise<Delivery[]> {
    return guard('listDeliveriesOfLead', () => queries.listDeliveriesOfLead(this.ctx, leadId));
  }

  listAttempts(deliveryId: string): Promise<Attempt[]> {
    return guard('listAttempts', () => queries.listAttempts(this.ctx, deliveryId));
  }

  listDeliveries(filter: DeliveryFilter): Promise<DeliveryPage> {
    return guard('listDeliveries', () => listDeliveries(this.ctx, this.registry, filter));
  }

  recordAttempt(result: AttemptResult): Promise<boolean> {
    return guard('recordAttempt', () => recordAttempt(this.ctx, result));
  }

  replay(selector: ReplaySelector): Promise<Delivery[]> {
    return guard('replay', () => replay(this.ctx, selector));
  }

  findDue(now: number, limit: number): Promise<Delivery[]> {
    return guard('findDue', () => queries.findDue(this.ctx, now, limit));
  }

  stats(): Promise<DestinationStats[]> {
    return guard('stats', () => queries.stats(this.ctx, this.registry));
  }

  setDestinationPaused(destination: string, paused: boolean, actor?: string): Promise<void> {
    return guard('setDestinationPaused', () => this.registry.setPaused(destination, paused, actor));
  }

  pausedDestinations(): Promise<string[]> {
    return guard('pausedDestinations', () => this.registry.paused());
  }

  destinationStates(): Promise<DestinationState[]> {
    return guard('destinationStates', () => this.registry.states());
  }

  listLeads(filter: LeadFilter): Promise<LeadPage> {
    return guard('listLeads', () => ops.listLeads(this.ctx, filter));
  }

  countLeads(brand: string, since: number): Promise<LeadCounts> {
    return guard('countLeads', () => ops.countLeads(this.ctx, brand, since));
  }

  attemptCounts(since: number): Promise<AttemptCounts[]> {
    return guard('attemptCounts', () => ops.attemptCounts(this.ctx, this.registry, since));
  }

  findLeadsByIdentity(identities: string[], brand?: string): Promise<StoredLead[]> {
    return guard('findLeadsByIdentity', () => privacy.findLeadsByIdentity(this.ctx, identities, brand));
  }

  createErasure(erasure: NewErasure): Promise<void> {
    return guard('createErasure', () => privacy.createErasure(this.ctx, erasure));
  }

  getErasure(id: string): Promise<Erasure | null> {
    return guard('getErasure', () => privacy.getErasure(this.ctx, id));
  }

  pendingErasures(limit: number): Promise<Erasure[]> {
    return guard('pendingErasures', () => privacy.pendingErasures(this.ctx, limit));
  }

  eraseNext(erasureId: string, limit: number, now: number): Promise<ErasureStep> {
    return guard('eraseNext', async () => {
      const step = await privacy.eraseNext(this.ctx, erasureId, limit, now);
      await this.registry.ensure(step.notices.map((d) => d.destination));
      return step;
    });
  }

  completeErasure(erasureId: string, now: number): Promise<boolean> {
    return guard('completeErasure', () => privacy.completeErasure(this.ctx, erasureId, now));
  }

  recordPrivacyAudit(entry: PrivacyAuditEntry): Promise<void> {
    return guard('recordPrivacyAudit', () => privacy.recordPrivacyAudit(this.ctx, entry));
  }

  listPrivacyAudit(limit: number): Promise<PrivacyAuditEntry[]> {
    return guard('listPrivacyAudit', () => privacy.listPrivacyAudit(this.ctx, limit));
  }

  /** Every item written for a lead carries the TTL attribute `expiresAtSec` (its retention): DynamoDB deletes them. */
  async purgeExpired(): Promise<PurgeCounts | null> {
    return null;
  }

  /** A read of a key that never exists: half a read unit, and none of DescribeTable's control-plane limits. */
  ping(): Promise<void> {
    return guard('ping', async () => {
      await this.ctx.doc.send(new GetCommand({ TableName: this.ctx.tables.leads, Key: { id: '#ping' } }));
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
