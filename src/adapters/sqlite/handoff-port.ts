import type { MessagePort } from 'node:worker_threads';
import type { HandedOff, HandoffSource, SqliteHandoff } from './handoff.js';

/**
 * The hand-off across threads: in `leadgate serve` the api runs on the main thread and the worker
 * on a worker thread (src/cli/worker-thread.ts), each with its own SQLite connection. The api's
 * `SqliteHandoff` stays where the ingest commits; the worker's queue gets a `PortHandoffSource`,
 * and the two talk over one MessagePort. Messages are batched per turn of the event loop (one
 * structured clone for every delivery committed by a group commit, one count of finished ones).
 * Nothing here changes what is durable: a handed-off delivery is a leased row in the table, so a
 * message lost with a dying thread only delays it until its lease expires.
 */
type ToWorker = { type: 'items'; items: HandedOff[] };
type ToApi = { type: 'attach'; leaseMs: number } | { type: 'detach' } | { type: 'finished'; count: number };

/** The api side: forwards committed deliveries to the worker thread while it is attached. */
export function linkHandoffToPort(handoff: SqliteHandoff, port: MessagePort): void {
  const send = batcher<HandedOff>((items) => port.postMessage({ type: 'items', items } satisfies ToWorker));
  port.on('message', (message: ToApi) => {
    if (message.type === 'attach') handoff.attach(send, message.leaseMs);
    else if (message.type === 'detach') handoff.detach();
    else handoff.finished(message.count);
  });
}

/** The worker side: what the SQLite queue of the worker thread consumes. */
export class PortHandoffSource implements HandoffSource {
  private consumer: ((items: HandedOff[]) => void) | null = null;
  private finishedCount = 0;
  private finishScheduled = false;

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: ToWorker) => {
      // Arrived after detach (stopping): not started, so let the leases expire into the table.
      if (this.consumer) this.consumer(message.items);
      else this.finished(message.items.length);
    });
  }

  attach(consumer: (items: HandedOff[]) => void, leaseMs: number): void {
    this.consumer = consumer;
    this.port.postMessage({ type: 'attach', leaseMs } satisfies ToApi);
  }

  detach(): void {
    this.consumer = null;
    this.port.postMessage({ type: 'detach' } satisfies ToApi);
  }

  finished(count = 1): void {
    this.finishedCount += count;
    if (this.finishScheduled) return;
    this.finishScheduled = true;
    setImmediate(() => {
      this.finishScheduled = false;
      const n = this.finishedCount;
      this.finishedCount = 0;
      if (n > 0) this.port.postMessage({ type: 'finished', count: n } satisfies ToApi);
    });
  }
}

/** Collects the items pushed during one turn of the event loop and hands them on together after it. */
function batcher<T>(flush: (items: T[]) => void): (items: T[]) => void {
  let pending: T[] = [];
  return (items) => {
    if (pending.length === 0) {
      setImmediate(() => {
        const out = pending;
        pending = [];
        flush(out);
      });
    }
    for (const item of items) pending.push(item);
  };
}
