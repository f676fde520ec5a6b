// The CLI entry must be executable for `npx leadgate` and the Procfile; the committed OpenAPI
// document travels inside dist/ (the ops listener serves it), so every bundle that carries
// dist/ (the EB zip, the Docker image, the npm package) carries it too.
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

chmodSync(join(import.meta.dirname, '../dist/cli.js'), 0o755);
copyFileSync(join(import.meta.dirname, '../openapi.json'), join(import.meta.dirname, '../dist/openapi.json'));
