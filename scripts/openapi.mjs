// Writes openapi.json at the repo root from the built app (`npm run openapi` builds first).
// test/integration/openapi.test.ts fails while the committed copy differs from what the
// routes describe.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatOpenApiDocument, generateOpenApiDocument } from '../dist/http/openapi-document.js';

const target = join(import.meta.dirname, '..', 'openapi.json');
writeFileSync(target, formatOpenApiDocument(await generateOpenApiDocument()));
console.log(`wrote ${target}`);
