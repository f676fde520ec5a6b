// Rewrites the SRI hash of the browser embed's <script> tag in README.md and docs/brand-sites.md
// from the built dist/embed.js (`npm run docs:embed` builds first). test/clients/browser-embed.test.ts
// fails while they differ.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const integrity = `sha384-${createHash('sha384').update(readFileSync(join(root, 'dist/embed.js'))).digest('base64')}`;
for (const file of ['README.md', 'docs/brand-sites.md']) {
  const path = join(root, file);
  writeFileSync(path, readFileSync(path, 'utf8').replace(/integrity="sha384-[A-Za-z0-9+/=]+"/g, `integrity="${integrity}"`));
  console.log(`wrote ${integrity} into ${file}`);
}
