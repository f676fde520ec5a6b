import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_NAMES, tableName, type TableName } from './tables.js';

/** What every part of the DynamoDB store shares: the client, the table names and the clock. */
export interface DynamoContext {
  doc: DynamoDBDocumentClient;
  tables: Record<TableName, string>;
  now: () => number;
}

export function tableNames(prefix: string): Record<TableName, string> {
  return Object.fromEntries(TABLE_NAMES.map((name) => [name, tableName(prefix, name)])) as Record<TableName, string>;
}

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
