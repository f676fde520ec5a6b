import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/env.js';
import { renderSettingsTable, withSettingsTable } from '../../src/config/settings-table.js';

const DOC = new URL('../../docs/configuration.md', import.meta.url);

describe('the settings table of docs/configuration.md', () => {
  it('is the one env.ts describes (run `npm run docs:settings` after changing a setting)', () => {
    const text = readFileSync(DOC, 'utf8');
    expect(withSettingsTable(text) === text, 'docs/configuration.md is stale: run `npm run docs:settings`').toBe(true);
  });

  it('has one row per variable, with its default', () => {
    const table = renderSettingsTable();
    for (const name of Object.keys(envSchema.shape)) expect(table).toContain(`| \`${name}\` |`);
    expect(table).toContain('| `PORT` | `3000` |');
    expect(table).toContain('| `LEADGATE_OPS_HOST` | `127.0.0.1` |');
  });
});
