// Rewrites the settings table of docs/configuration.md from src/config/env.ts (`npm run docs:settings` builds first).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withSettingsTable } from '../dist/config/settings-table.js';

const target = join(import.meta.dirname, '..', 'docs', 'configuration.md');
writeFileSync(target, withSettingsTable(readFileSync(target, 'utf8')));
console.log(`wrote the settings table of ${target}`);
