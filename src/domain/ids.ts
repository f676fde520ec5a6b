import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

/**
 * UUIDv7 ids, time-ordered (keyset pagination and DynamoDB keys sort by creation). `uuid` lays
 * out the bytes; the randomness comes from a pool refilled 256 ids at a time, because uuid's own
 * v7() asks the OS for 16 bytes per id (1.5 µs, 7 % of the ingest path's CPU in a profile).
 * Ids made within one millisecond stay ordered: the sequence counts up as uuid's does.
 */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;
let lastMsecs = Number.NEGATIVE_INFINITY;
let seq = 0;

export function newId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const random = pool.subarray(next * 16, ++next * 16);
  let msecs = Date.now();
  if (msecs > lastMsecs) {
    // A fresh random start each millisecond (31 bits), as uuid's v7 does.
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    lastMsecs = msecs;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMsecs++;
    msecs = lastMsecs;
  }
  return v7({ random, msecs, seq });
}
