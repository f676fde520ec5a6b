import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests spawn processes and emulators on a 2-core machine shared with other files.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // e2e suites spawn leadgate processes; keep the 2-core machine from thrashing.
    maxWorkers: 2,
    // .ci/run reads the JSON report for its closing 'N passed, N failed' line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
