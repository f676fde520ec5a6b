import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMarkdown } from './render.js';
import type { HistoryEntry, Results } from './types.js';

/**
 * `npm run bench:render`: BENCHMARKS.md again from the last run's bench/results.json and
 * bench/history.json and the current bench/analysis.md, without measuring anything (after
 * editing the analysis or the layout).
 */

// Compiled to .tools-build/bench/: the repository is two levels up.
const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const results = JSON.parse(readFileSync(file('bench/results.json'), 'utf8')) as Results;
const history = JSON.parse(readFileSync(file('bench/history.json'), 'utf8')) as HistoryEntry[];
writeFileSync(file('BENCHMARKS.md'), renderMarkdown(results, history, readFileSync(file('bench/analysis.md'), 'utf8')));
console.log('wrote BENCHMARKS.md from bench/results.json, bench/history.json and bench/analysis.md');
