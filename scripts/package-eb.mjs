// `npm run package`: the Elastic Beanstalk source bundle, build/leadgate-<version>.zip.
//
// It holds what the instances run and nothing else: dist/ (built first by `npm run package`),
// package.json, package-lock.json, Procfile, .ebextensions/, config/ and migrations/. No
// node_modules: the Node.js platform runs `npm install` (production) on each instance, where
// better-sqlite3 gets the addon built for that OS. The staged tree is kept in build/bundle/,
// because CodePipeline's Elastic Beanstalk action zips its input artifact itself
// (buildspec.yml hands it the tree, not the zip).
//
// The bundle's package.json keeps only the `start` script: EB's `npm install --omit=dev`
// would otherwise run `prepare` (the tsc build), without TypeScript and without src/, and
// fail the deployment. Dependencies are untouched, so package-lock.json still matches.
//
// usage: node scripts/package-eb.mjs [--out-dir build]
import { chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import yazl from 'yazl';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: join(root, 'build') } } });
const outDir = values['out-dir'];

const FILES = ['Procfile', 'package.json', 'package-lock.json'];
const FOLDERS = ['dist', '.ebextensions', 'config', 'migrations'];

function walk(folder) {
  return readdirSync(join(root, folder), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.isFile() && entry.name !== '.DS_Store' ? [path] : [];
    });
}

/** Writes the entries to `file` as a zip, in order, each deflated with its Unix mode and mtime. */
async function writeZip(file, entries) {
  const zip = new yazl.ZipFile();
  for (const { name, data, mode, mtime } of entries) {
    zip.addBuffer(data, name, { mode: 0o100000 | mode, mtime, compressionLevel: 9 });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
}

/** package.json as the instances need it: no build scripts (see the header). */
function bundlePackageJson(text) {
  const pkg = JSON.parse(text);
  pkg.scripts = { start: pkg.scripts?.start ?? 'node dist/cli.js serve' };
  return Buffer.from(`${JSON.stringify(pkg, null, 2)}\n`);
}

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  console.error('dist/cli.js is missing: run `npm run build` first (`npm run package` does)');
  process.exit(1);
}

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const paths = [...FILES, ...FOLDERS.flatMap(walk)].map((path) => path.split(sep).join('/'));
const entries = paths.map((name) => {
  const file = join(root, name);
  const stat = statSync(file);
  const raw = readFileSync(file);
  return {
    name,
    data: name === 'package.json' ? bundlePackageJson(raw.toString('utf8')) : raw,
    mode: stat.mode & 0o777,
    mtime: stat.mtime,
  };
});

const bundleDir = join(outDir, 'bundle');
rmSync(bundleDir, { recursive: true, force: true });
for (const entry of entries) {
  const target = join(bundleDir, entry.name);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, entry.data);
  chmodSync(target, entry.mode);
}
const zipFile = join(outDir, `leadgate-${version}.zip`);
await writeZip(zipFile, entries);
console.log(`${relative(process.cwd(), zipFile) || zipFile}: ${entries.length} files`);
