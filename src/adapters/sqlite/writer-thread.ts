import { parentPort, workerData } from 'node:worker_threads';
import { openConnection, statementCache } from './connection.js';
import { runBatch, type WriteRequest } from './write-ops.js';

/**
 * The writer thread: owns the database's only write connection. Each message is one batch
 * (every write the main thread queued while the previous batch was committing), run in one
 * transaction; the answer goes back with the batch's sequence number. `null` closes it.
 * While it inserts and fsyncs, the main thread goes on parsing and validating requests.
 */

const port = parentPort!;
const { file } = workerData as { file: string };
const db = openConnection(file);
const statements = statementCache(db);

port.on('message', (message: { seq: number; requests: WriteRequest[] } | null) => {
  if (message === null) {
    statements.clear();
    db.close();
    port.close();
    return;
  }
  port.postMessage({ seq: message.seq, answer: runBatch(db, statements, message.requests) });
});
