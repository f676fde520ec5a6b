import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startWorkerThread } from '../../src/cli/worker-thread.js';
import { deferred } from '../contract/fixtures.js';

/**
 * `leadgate serve`'s side of its worker thread (src/cli/worker-thread.ts), driven against small
 * stand-in threads: what it does when the thread fails before or after it is ready, how it
 * stops, and what it relays. The real thread is exercised end to end by the serve e2e tests.
 */

const dir = mkdtempSync(join(tmpdir(), 'leadgate-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in thread module: `body` runs with `port` (parentPort) in scope. */
function entry(name: string, body: string): URL {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import { parentPort as port } from 'node:worker_threads';\n${body}\n`);
  return pathToFileURL(file);
}

function capturingLogger() {
  const lines: Array<{ msg: string; level: number }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string; level: number });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** Starts `body` as the worker thread; `fatal` resolves, and `failed()` turns true, once the failure action ran. */
async function startStandIn(name: string, body: string) {
  const { logger, lines } = capturingLogger();
  const fatal = deferred();
  let failed = false;
  const onFatal = () => {
    failed = true;
    fatal.resolve();
  };
  const worker = await startWorkerThread({ demo: false, handoff: null, logger, onFatal, entry: entry(name, body) });
  return { worker, lines, fatal: fatal.promise, failed: () => failed };
}

describe('serve: the worker thread', () => {
  it('a thread that fails before it is ready makes the start fail with its error', async () => {
    const { logger } = capturingLogger();
    const start = startWorkerThread({ demo: false, handoff: null, logger, entry: entry('early', "throw new Error('cannot open the store');") });
    await expect(start).rejects.toThrow('cannot open the store');
  });

  it('a thread that fails after the start ends the process, logged', async () => {
    const { worker, lines, fatal } = await startStandIn(
      'late',
      `port.on('message', (m) => { if (m.type === 'start') setImmediate(() => { throw new Error('boom'); }); });
port.postMessage({ type: 'ready' });`,
    );
    worker.start();
    await fatal;
    expect(lines.map((l) => l.msg)).toContain('worker thread failed; exiting');
  });

  it('relays breaker states and metrics, and stops on request without counting the exit as a failure', async () => {
    const { worker, failed } = await startStandIn(
      'polite',
      `port.on('message', (m) => {
  if (m.type === 'start') port.postMessage({ type: 'breaker', destination: 'crm-main', state: 'open' });
  if (m.type === 'metrics') port.postMessage({ type: 'metrics', id: m.id, metrics: [{ name: 'x_total', help: 'x', type: 'counter', values: [{ value: 3, labels: {} }], aggregator: 'sum' }] });
  if (m.type === 'stop') { port.postMessage({ type: 'stopped' }); port.close(); }
});
port.postMessage({ type: 'ready' });`,
    );
    expect(worker.breakerState('crm-main')).toBe('closed');
    worker.start();
    const metrics = await worker.metrics!();
    expect(metrics).toEqual([expect.objectContaining({ name: 'x_total', values: [{ value: 3, labels: {} }] })]);
    // Messages keep their order: the breaker state sent before the metrics has arrived.
    expect(worker.breakerState('crm-main')).toBe('open');
    await worker.stop();
    expect(await worker.metrics!()).toEqual([]);
    expect(failed()).toBe(false);
  });

  it('stop ends even when the thread leaves without saying it stopped', async () => {
    const { worker, failed } = await startStandIn(
      'abrupt',
      `port.on('message', (m) => { if (m.type === 'stop') process.exit(0); });\nport.postMessage({ type: 'ready' });`,
    );
    await worker.stop();
    expect(failed()).toBe(false);
  });
});
