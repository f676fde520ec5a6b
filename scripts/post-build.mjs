// The CLI entry must be executable for `npx leadgate` and the Procfile; the committed OpenAPI
// document travels inside dist/ (the ops listener serves it), so every bundle that carries
// dist/ (the EB zip, the Docker image, the npm package) carries it too. The browser embed
// (clients/browser/) becomes one minified ES2019 file, dist/embed.js, which the public
// listener serves at /v1/embed.js.
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const root = join(import.meta.dirname, '..');
chmodSync(join(root, 'dist/cli.js'), 0o755);
copyFileSync(join(root, 'openapi.json'), join(root, 'dist/openapi.json'));

buildSync({
  entryPoints: [join(root, 'clients/browser/embed.ts')],
  outfile: join(root, 'dist/embed.js'),
  bundle: true,
  format: 'iife',
  target: 'es2019',
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});
