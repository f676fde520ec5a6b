import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoContext } from './context.js';
import type { Item } from './items.js';

/**
 * The destinations that ever had a delivery, in their own small table: stats and the status-only
 * admin list walk the by-destination-status index per destination, and DynamoDB cannot list an
 * index's distinct partition keys. A destination is recorded before the first transaction that
 * writes a delivery for it (so the table is always a superset), once per process.
 */
export class DestinationRegistry {
  private readonly known = new Set<string>();

  constructor(private readonly ctx: DynamoContext) {}

  async ensure(destinations: readonly string[]): Promise<void> {
    const missing = [...new Set(destinations)].filter((d) => !this.known.has(d));
    await Promise.all(
      missing.map(async (id) => {
        // An unconditional put: it is idempotent, and several instances may race on it.
        await this.ctx.doc.send(new PutCommand({ TableName: this.ctx.tables.destinations, Item: { id } }));
        this.known.add(id);
      }),
    );
  }

  /** Every destination seen, sorted; a scan, but of a table with one item per destination. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.ctx.doc.send(
        new ScanCommand({ TableName: this.ctx.tables.destinations, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) ids.push(item.id as string);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return ids.sort();
  }
}
