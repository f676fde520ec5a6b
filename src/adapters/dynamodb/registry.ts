import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DestinationState } from '../../ports/lead-store.js';
import type { DynamoContext } from './context.js';
import type { Item } from './items.js';

/**
 * The destinations that ever had a delivery, in their own small table: stats and the status-only
 * admin list walk the by-destination-status index per destination, and DynamoDB cannot list an
 * index's distinct partition keys. A destination is recorded before the first transaction that
 * writes a delivery for it (so the table is always a superset), once per process.
 *
 * The same item carries the operator state of the destination (`paused`: true while deliveries
 * are held), so a destination paused before its first lead is listed too (with nothing pending).
 */
export class DestinationRegistry {
  private readonly known = new Set<string>();

  constructor(private readonly ctx: DynamoContext) {}

  async ensure(destinations: readonly string[]): Promise<void> {
    const missing = [...new Set(destinations)].filter((d) => !this.known.has(d));
    await Promise.all(
      missing.map(async (id) => {
        // An update that sets nothing already there: idempotent, safe when several instances race,
        // and it never clears `paused` (a put would replace the whole item).
        await this.ctx.doc.send(
          new UpdateCommand({
            TableName: this.ctx.tables.destinations,
            Key: { id },
            UpdateExpression: 'SET seenAt = if_not_exists(seenAt, :now)',
            ExpressionAttributeValues: { ':now': this.ctx.now() },
          }),
        );
        this.known.add(id);
      }),
    );
  }

  /** Pauses or resumes a destination, noting when and by whom; creates its item if it has none yet. */
  async setPaused(id: string, paused: boolean, actor?: string): Promise<void> {
    await this.ctx.doc.send(
      new UpdateCommand({
        TableName: this.ctx.tables.destinations,
        Key: { id },
        UpdateExpression:
          actor === undefined
            ? 'SET paused = :paused, pausedUpdatedAt = :now REMOVE pausedBy'
            : 'SET paused = :paused, pausedUpdatedAt = :now, pausedBy = :actor',
        ExpressionAttributeValues: { ':paused': paused, ':now': this.ctx.now(), ...(actor === undefined ? {} : { ':actor': actor }) },
      }),
    );
  }

  /** Destinations ever paused or resumed, sorted, with when and by whom. */
  async states(): Promise<DestinationState[]> {
    return (await this.scan())
      .filter((item) => typeof item.pausedUpdatedAt === 'number')
      .map((item) => ({
        destination: item.id as string,
        paused: item.paused === true,
        changedAt: item.pausedUpdatedAt as number,
        changedBy: typeof item.pausedBy === 'string' ? item.pausedBy : null,
      }))
      .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0));
  }

  /** The paused destinations, sorted: a strongly consistent scan of this small table. */
  async paused(): Promise<string[]> {
    return (await this.scan()).filter((item) => item.paused === true).map((item) => item.id as string).sort();
  }

  /** Every destination seen, sorted; a scan, but of a table with one item per destination. */
  async list(): Promise<string[]> {
    return (await this.scan()).map((item) => item.id as string).sort();
  }

  private async scan(): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.ctx.doc.send(
        new ScanCommand({ TableName: this.ctx.tables.destinations, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // Rows whose id starts with '#' are migrate's markers, not destinations (ids are [a-z0-9-]+).
    return items.filter((item) => !(item.id as string).startsWith('#'));
  }
}
