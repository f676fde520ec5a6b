// `npm run package`: the Elastic Beanstalk source bundle, build/leadgate-<version>.zip.
//
// It holds what the instances run and nothing else: dist/ (built first by `npm run package`),
// package.json, package-lock.json, Procfile, .ebextensions/, config/, migrations/ and the
// production node_modules. The Node.js platform skips `npm install` when the bundle has a
// node_modules directory (EB docs, "Configuring your application's dependencies"), so
// instances neither reach the npm registry nor compile anything on deploy or scale-out.
// node_modules comes from `npm ci --omit=dev --omit=optional --ignore-scripts` on the lock
// file: better-sqlite3 (optional, the embedded store's native addon) stays out, and no install
// script runs, so what remains is plain JavaScript that runs on any Node 22 (checked below:
// no *.node addon may enter). Type declarations and source maps are dropped.
//
// The staged tree is kept in build/bundle/ (what CodeBuild hands on as its primary artifact).
// The bundle's package.json keeps only the `start` script, so nothing on the instance can
// start the tsc build. Dependencies are untouched, so package-lock.json still matches.
//
// usage: node scripts/package-eb.mjs [--out-dir build]
import { spawnSync } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import yazl from 'yazl';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: join(root, 'build') } } });
const outDir = values['out-dir'];

const FILES = ['Procfile', 'package.json', 'package-lock.json'];
const FOLDERS = ['dist', '.ebextensions', 'config', 'migrations'];

/** Installed into the bundle's node_modules: production dependencies, no optional ones, no scripts. */
const NPM_CI = ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-bin-links', '--no-audit', '--no-fund', '--prefer-offline'];
/** Not needed to run: type declarations and source maps. */
const PRUNED = /\.(d\.ts|d\.mts|d\.cts|map)$/;

function walk(folder, base = root) {
  return readdirSync(join(base, folder), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return walk(path, base);
      return entry.isFile() && entry.name !== '.DS_Store' ? [path] : [];
    });
}

function toEntry(base, name, data) {
  const file = join(base, name);
  const stat = statSync(file);
  return { name: name.split(sep).join('/'), data: data ?? readFileSync(file), mode: stat.mode & 0o777, mtime: stat.mtime };
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
const paths = [...FILES, ...FOLDERS.flatMap((folder) => walk(folder))];
const entries = paths.map((name) =>
  toEntry(root, name, name === 'package.json' ? bundlePackageJson(readFileSync(join(root, name), 'utf8')) : undefined),
);

const bundleDir = join(outDir, 'bundle');
rmSync(bundleDir, { recursive: true, force: true });
for (const entry of entries) {
  const target = join(bundleDir, entry.name);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, entry.data);
  chmodSync(target, entry.mode);
}

const npm = spawnSync('npm', NPM_CI, { cwd: bundleDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
if (npm.status !== 0) {
  console.error(`npm ${NPM_CI.join(' ')} failed in ${bundleDir}`);
  process.exit(1);
}
const modules = walk('node_modules', bundleDir).filter((name) => {
  if (!PRUNED.test(name)) return true;
  unlinkSync(join(bundleDir, name));
  return false;
});
const addons = modules.filter((name) => name.endsWith('.node') || name.includes(`${sep}better-sqlite3${sep}`));
if (addons.length > 0) {
  console.error(`native code in the bundle's node_modules (instances would need to build it): ${addons.slice(0, 5).join(', ')}`);
  process.exit(1);
}
entries.push(...modules.map((name) => toEntry(bundleDir, name)));

const zipFile = join(outDir, `leadgate-${version}.zip`);
await writeZip(zipFile, entries);
console.log(`${relative(process.cwd(), zipFile) || zipFile}: ${entries.length} files (${modules.length} in node_modules)`);
