// The CLI entry must be executable for `npx leadgate` and the Procfile.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';

chmodSync(join(import.meta.dirname, '../dist/cli.js'), 0o755);
