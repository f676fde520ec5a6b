import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, hasCommand, readRepoFile, run } from './helpers.js';

// `npm run package` = build + scripts/package-eb.mjs; the build already ran (`npm test` builds
// first), so this runs the packaging step alone, into a temporary directory.

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

function walk(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = `${folder}/${entry.name}`;
    return entry.isDirectory() ? walk(path) : entry.isFile() ? [path] : [];
  });
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
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('is an npm script that builds first', () => {
    expect(JSON.parse(readRepoFile('package.json')).scripts.package).toMatch(/^npm run build && node scripts\/package-eb\.mjs/);
  });

  it('holds exactly dist/, .ebextensions/, config/, migrations/, Procfile and the package files', () => {
    const expected = [
      'Procfile',
      'package.json',
      'package-lock.json',
      ...['dist', '.ebextensions', 'config', 'migrations'].flatMap(walk),
    ].sort();
    expect(entries.map((e) => e.name).sort()).toEqual(expected);
    for (const name of entries.map((e) => e.name)) {
      expect(name).not.toMatch(/^(node_modules|src|test|bench|build|data|\.git)\//);
    }
  });

  it('carries the files as they are, dist/cli.js executable', () => {
    for (const entry of entries.filter((e) => e.name !== 'package.json')) {
      expect(entry.data.equals(readFileSync(join(ROOT, entry.name))), entry.name).toBe(true);
    }
    expect(entries.find((e) => e.name === 'dist/cli.js')!.mode & 0o111).not.toBe(0);
  });

  it("has a package.json whose npm install on EB cannot run the tsc build, with the same dependencies", () => {
    const bundled = JSON.parse(entries.find((e) => e.name === 'package.json')!.data.toString('utf8'));
    const original = JSON.parse(readRepoFile('package.json'));
    expect(bundled.scripts).toEqual({ start: original.scripts.start });
    const { scripts: _a, ...restBundled } = bundled;
    const { scripts: _b, ...restOriginal } = original;
    expect(restBundled).toEqual(restOriginal);
  });

  it('stages the same tree in build/bundle for CodePipeline', () => {
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
