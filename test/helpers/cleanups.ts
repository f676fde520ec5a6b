import { afterAll, afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;

/**
 * A per-file list of things to stop after each test (servers, processes, temp dirs), run in
 * reverse order of registration. Call once at the top level of a test file.
 */
export function cleanupAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(() => runAll(cleanups));
  return cleanups;
}

/** The same for what a whole file (or describe block) shares, run once after its last test. */
export function cleanupAfterAll(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterAll(() => runAll(cleanups));
  return cleanups;
}

async function runAll(cleanups: Cleanup[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}
