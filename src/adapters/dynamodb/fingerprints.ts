import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { IngestCommand } from '../../ports/lead-store.js';
import type { DynamoContext } from './context.js';
import { FINGERPRINT_TTL_ATTRIBUTE } from './tables.js';
import type { Item } from './items.js';

/**
 * Duplicate detection on DynamoDB: one item per fingerprint and lead, keyed (fingerprint,
 * receivedAt), written in the lead's ingest transaction and deleted by TTL once the brand's
 * window has passed. Two leads with one fingerprint in the same millisecond share a key, so
 * the later write stands for both: either id is a right answer for a later duplicate.
 */

type Fingerprints = NonNullable<IngestCommand['fingerprints']>;

/** The Put items for the ingest transaction (distinct values: one item may appear once per transaction). */
export function fingerprintPuts(ctx: DynamoContext, leadId: string, receivedAt: number, fingerprints: Fingerprints) {
  return [...new Set(fingerprints.values)].map((fingerprint) => ({
    Put: {
      TableName: ctx.tables.fingerprints,
      Item: {
        fingerprint,
        receivedAt,
        leadId,
        // DynamoDB's TTL deletes it some time after this; lookups filter on receivedAt anyway.
        [FINGERPRINT_TTL_ATTRIBUTE]: Math.ceil(fingerprints.expiresAt / 1000),
      },
    },
  }));
}

/** One query per fingerprint (two at most), newest first, one item each; the latest wins. */
export async function findDuplicate(ctx: DynamoContext, fingerprints: string[], since: number): Promise<string | null> {
  const found = await Promise.all(
    [...new Set(fingerprints)].map(async (fingerprint) => {
      const { Items } = await ctx.doc.send(
        new QueryCommand({
          TableName: ctx.tables.fingerprints,
          KeyConditionExpression: 'fingerprint = :fingerprint AND receivedAt >= :since',
          ExpressionAttributeValues: { ':fingerprint': fingerprint, ':since': since },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      );
      return Items?.[0];
    }),
  );
  let latest: Item | undefined;
  for (const item of found) {
    if (!item) continue;
    // Ties on the millisecond go to the greater id (UUIDv7: the later one).
    if (
      !latest ||
      (item.receivedAt as number) > (latest.receivedAt as number) ||
      (item.receivedAt === latest.receivedAt && (item.leadId as string) > (latest.leadId as string))
    ) {
      latest = item;
    }
  }
  return (latest?.leadId as string | undefined) ?? null;
}
