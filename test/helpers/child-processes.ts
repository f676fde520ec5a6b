import type { ChildProcess } from 'node:child_process';

/** Server processes a test started (redis-server, DynamoDB Local's JVM) and not yet seen exit. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Tracks `child` until it exits. Last resort: a test file that crashed or skipped its
 * afterAll must not leave a server behind, so every tracked child is SIGKILLed at exit.
 */
export function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const tracked of running) tracked.kill('SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
