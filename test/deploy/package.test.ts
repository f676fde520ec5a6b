import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { crc32, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, hasCommand, readRepoFile, run } from './helpers.js';

// `npm run package` = build + scripts/package-eb.mjs; the build already ran (`npm test` builds
// first), so this runs the packaging step alone, into a temporary directory. It installs the
// production node_modules with `npm ci` (from npm's cache when warm): about 10-20 s.

interface ZipEntry {
  name: string;
  mode: number;
  data: Buffer;
}

/** Reads a zip independently of the library that wrote it (yazl): central directory, local headers, CRCs. */
function readZip(buffer: Buffer): ZipEntry[] {
  const end = buffer.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
  expect(end).toBeGreaterThan(0);
  const count = buffer.readUInt16LE(end + 10);
  let at = buffer.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    expect(buffer.readUInt32LE(at)).toBe(0x02014b50);
    const method = buffer.readUInt16LE(at + 10);
    const crc = buffer.readUInt32LE(at + 16);
    const compressedSize = buffer.readUInt32LE(at + 20);
    const size = buffer.readUInt32LE(at + 24);
    const nameLength = buffer.readUInt16LE(at + 28);
    const skip = buffer.readUInt16LE(at + 30) + buffer.readUInt16LE(at + 32);
    const mode = (buffer.readUInt32LE(at + 38) >>> 16) & 0o777;
    const localAt = buffer.readUInt32LE(at + 42);
    const name = buffer.toString('utf8', at + 46, at + 46 + nameLength);
    expect(buffer.readUInt32LE(localAt)).toBe(0x04034b50);
    const dataAt = localAt + 30 + buffer.readUInt16LE(localAt + 26) + buffer.readUInt16LE(localAt + 28);
    const raw = buffer.subarray(dataAt, dataAt + compressedSize);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    expect(method === 0 || method === 8, `${name}: stored or deflated`).toBe(true);
    expect(data.length, `${name}: size`).toBe(size);
    expect(crc32(data) >>> 0, `${name}: crc`).toBe(crc);
    entries.push({ name, mode, data });
    at += 46 + nameLength + skip;
  }
  return entries;
}

function walk(folder: string, base = ROOT): string[] {
  return readdirSync(join(base, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = `${folder}/${entry.name}`;
    return entry.isDirectory() ? walk(path, base) : entry.isFile() ? [path] : [];
  });
}

/** Spawns the bundle's own CLI (as the Procfile does on an instance) and waits for `leadgate started`. */
function startBundled(bundleDir: string, command: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/cli.js', command], {
    cwd: bundleDir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as { msg?: string; address?: { port: number } };
        if (line.msg === 'leadgate started' && line.address) resolve(line.address.port);
      } catch {
        // not a log line
      }
    });
    child.on('exit', (code) => reject(new Error(`bundled leadgate exited (${code}) before starting: ${stderr}`)));
  });
  const stopped = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { started, stop: () => (child.kill('SIGTERM'), stopped) };
}

describe('npm run package (Elastic Beanstalk source bundle)', () => {
  const version = JSON.parse(readRepoFile('package.json')).version as string;
  let outDir: string;
  let zipFile: string;
  let entries: ZipEntry[];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'leadgate-package-'));
    const result = await run('node', ['scripts/package-eb.mjs', '--out-dir', outDir]);
    expect(result.code, result.stderr).toBe(0);
    zipFile = join(outDir, `leadgate-${version}.zip`);
    entries = readZip(readFileSync(zipFile));
  }, 180_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('is an npm script that builds first', () => {
    expect(JSON.parse(readRepoFile('package.json')).scripts.package).toMatch(/^npm run build && node scripts\/package-eb\.mjs/);
  });

  it('holds exactly dist/, .ebextensions/, config/, migrations/, Procfile, the package files and node_modules', () => {
    const expected = [
      'Procfile',
      'package.json',
      'package-lock.json',
      ...['dist', '.ebextensions', 'config', 'migrations'].flatMap((folder) => walk(folder)),
      ...walk('node_modules', join(outDir, 'bundle')),
    ].sort();
    expect(entries.map((e) => e.name).sort()).toEqual(expected);
    for (const name of entries.map((e) => e.name)) {
      expect(name).not.toMatch(/^(src|test|bench|build|data|docs|deploy|\.git|\.github)\//);
      expect(name).not.toMatch(/^\.env/);
    }
  });

  it('carries the repository files as they are, dist/cli.js executable', () => {
    for (const entry of entries.filter((e) => e.name !== 'package.json' && !e.name.startsWith('node_modules/'))) {
      expect(entry.data.equals(readFileSync(join(ROOT, entry.name))), entry.name).toBe(true);
    }
    expect(entries.find((e) => e.name === 'dist/cli.js')!.mode & 0o111).not.toBe(0);
  });

  it('ships the production node_modules (EB then skips npm install): every dependency, no dev or optional one, no native addon', () => {
    const pkg = JSON.parse(readRepoFile('package.json'));
    const names = new Set(entries.map((e) => e.name));
    for (const dependency of Object.keys(pkg.dependencies)) {
      expect(names.has(`node_modules/${dependency}/package.json`), dependency).toBe(true);
    }
    for (const excluded of [...Object.keys(pkg.optionalDependencies), ...Object.keys(pkg.devDependencies)]) {
      expect(names.has(`node_modules/${excluded}/package.json`), excluded).toBe(false);
    }
    expect(pkg.optionalDependencies).toHaveProperty('better-sqlite3');
    expect(pkg.dependencies).not.toHaveProperty('better-sqlite3');
    expect([...names].filter((name) => name.endsWith('.node') || name.endsWith('binding.gyp'))).toEqual([]);
    expect([...names].filter((name) => name.startsWith('node_modules/') && /\.(d\.ts|map)$/.test(name))).toEqual([]);
  });

  it('runs from the bundle alone on DynamoDB and SQS, without better-sqlite3: api live, readiness names the failing backends', async () => {
    // DynamoDB and SQS stand-ins that answer every call 500: what matters here is that every
    // module the api loads is in the bundle; the adapters themselves have their own suites.
    const aws: Server = createServer((_req, res) => res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' }).end('{}'));
    await new Promise<void>((resolve) => aws.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
    const bundleDir = join(outDir, 'bundle');
    let api: ReturnType<typeof startBundled> | undefined;
    try {
      api = startBundled(bundleDir, 'api', {
        LEADGATE_STORE: 'dynamodb',
        LEADGATE_QUEUE: 'sqs',
        SQS_QUEUE_URL: `${endpoint}/000000000000/bundle-test`,
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ENDPOINT_URL_SQS: endpoint,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_MAX_ATTEMPTS: '1',
        LEADGATE_PRIVACY_KEY: 'bundle-test-privacy-key-0123456789abcdef',
        LEADGATE_CONFIG: join(bundleDir, 'config/leadgate.example.yaml'),
      });
      const port = await api.started;
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: Record<string, string> };
      expect(body.checks.store).not.toBe('ok');
      expect(body.checks.queue).not.toBe('ok');
    } finally {
      await api?.stop();
      await new Promise((resolve) => aws.close(resolve));
    }
  }, 60_000);

  it('names the missing optional dependency when the bundle is asked for the embedded store', async () => {
    const result = await run(process.execPath, ['dist/cli.js', 'migrate'], {
      cwd: join(outDir, 'bundle'),
      env: { PATH: process.env.PATH ?? '', LEADGATE_DATA_DIR: join(outDir, 'data') },
    });
    expect(result.code).toBe(78);
    expect(result.stdout + result.stderr).toMatch(/LEADGATE_STORE: sqlite needs the optional dependency better-sqlite3/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("has a package.json whose npm install on EB cannot run the tsc build, with the same dependencies", () => {
    const bundled = JSON.parse(entries.find((e) => e.name === 'package.json')!.data.toString('utf8'));
    const original = JSON.parse(readRepoFile('package.json'));
    expect(bundled.scripts).toEqual({ start: original.scripts.start });
    const { scripts: _a, ...restBundled } = bundled;
    const { scripts: _b, ...restOriginal } = original;
    expect(restBundled).toEqual(restOriginal);
  });

  it('stages the same tree in build/bundle', () => {
    for (const entry of entries) {
      const file = join(outDir, 'bundle', entry.name);
      expect(readFileSync(file).equals(entry.data), entry.name).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(entry.mode);
    }
  });

  it.runIf(hasCommand('unzip'))('passes unzip -t', async () => {
    const result = await run('unzip', ['-t', zipFile]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/No errors detected/);
  });
});
