import { afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;

/**
 * A per-file list of things to stop after each test (servers, processes, temp dirs), run in
 * reverse order of registration. Call once at the top level of a test file.
 */
export function cleanupAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
