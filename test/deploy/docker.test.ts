import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, readRepoFile, run } from './helpers.js';

// No Docker engine here: the Dockerfile is checked by structure, and its HEALTHCHECK command
// is run for real against a local server. `docker build` runs in CI (.github/workflows/ci.yml).

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical.filter(Boolean)) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword!.toUpperCase() === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: match![1]!, name: match![2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword!.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readRepoFile('Dockerfile'));
const runtime = stages.at(-1)!;
const build = stages[0]!;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile', () => {
  it('is multi-stage on node:22-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toBe('node:22-bookworm-slim');
  });

  it('builds in the first stage: compilers for better-sqlite3, npm ci, npm run build, prune to production', () => {
    const commands = of(build, 'RUN').map((i) => i.args).join('\n');
    expect(commands).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    expect(commands).toMatch(/\bnpm ci\b/);
    expect(commands).toMatch(/\bnpm run build\b/);
    expect(commands).toMatch(/--omit=dev/);
  });

  it('runs without compilers or dev dependencies: production node_modules from the build stage', () => {
    const runCommands = of(runtime, 'RUN').map((i) => i.args).join('\n');
    expect(runCommands).not.toMatch(/g\+\+|python3|\bmake\b/);
    const copies = of(runtime, 'COPY').map((i) => i.args);
    const nodeModules = copies.find((args) => /\bnode_modules\b/.test(args));
    if (nodeModules) {
      // Copied from a stage that pruned the dev dependencies.
      const source = /--from=(\S+)/.exec(nodeModules)?.[1];
      const from = stages.find((s) => s.name === source);
      expect(from, 'node_modules must come from a build stage').toBeDefined();
      expect(of(from!, 'RUN').some((i) => /--omit=dev/.test(i.args))).toBe(true);
    } else {
      expect(runCommands).toMatch(/npm ci[^\n]*--omit=dev/);
    }
    expect(copies.some((args) => args.includes('--from=') && /\/dist\s+dist$/.test(args))).toBe(true);
  });

  it('every file the build copies from the context exists and is not in .dockerignore', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const stage of stages) {
      for (const copy of of(stage, 'COPY').filter((i) => !i.args.includes('--from='))) {
        const parts = copy.args.split(/\s+/).filter((part) => !part.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
          expect(ignored, `${source} is sent to the build`).not.toContain(source);
        }
      }
    }
    for (const entry of ['**/node_modules', 'dist', '.git', 'test', 'data']) expect(ignored).toContain(entry);
  });

  it('runs as a non-root user, exposes 3000 and starts `node dist/cli.js serve`', () => {
    const users = of(runtime, 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(of(runtime, 'EXPOSE').map((i) => i.args)).toContain('3000 9464');
    expect(JSON.parse(of(runtime, 'CMD').at(-1)!.args)).toEqual(['node', 'dist/cli.js', 'serve']);
  });

  it('fails closed: names its config file (no --demo), and binds the ops listener for a private scrape', () => {
    const env = of(runtime, 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/LEADGATE_CONFIG=\/app\/config\/leadgate\.yaml/);
    expect(env).toMatch(/LEADGATE_OPS_HOST=0\.0\.0\.0/);
    expect(of(runtime, 'CMD').at(-1)!.args).not.toContain('--demo');
  });

  describe('HEALTHCHECK', () => {
    const healthcheck = of(runtime, 'HEALTHCHECK').at(-1)!;
    const exec = JSON.parse(healthcheck.args.slice(healthcheck.args.indexOf('CMD') + 3).trim()) as string[];
    let status = 200;
    let seenPath = '';
    let server: Server;
    let port: number;

    beforeAll(async () => {
      server = createServer((req, res) => {
        seenPath = req.url ?? '';
        res.writeHead(status).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('probes /health/live with node (no curl in the slim image)', () => {
      expect(exec[0]).toBe('node');
      expect(healthcheck.args).not.toMatch(/curl|wget/);
      expect(exec.join(' ')).toContain('/health/live');
    });

    it('exits 0 when /health/live answers 200 and 1 otherwise', async () => {
      const env = { ...process.env, PORT: String(port) };
      status = 200;
      expect((await run(exec[0]!, exec.slice(1), { env })).code).toBe(0);
      expect(seenPath).toBe('/health/live');
      status = 503;
      expect((await run(exec[0]!, exec.slice(1), { env })).code).toBe(1);
    });

    it('exits 1 when nothing listens', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const freePort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      expect((await run(exec[0]!, exec.slice(1), { env: { ...process.env, PORT: String(freePort) } })).code).toBe(1);
    });
  });
});
