import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './crm-server.js';
import { waitFor } from './wait.js';

/**
 * haproxy (Debian package) in round robin in front of api instances, with health checks on
 * /health/ready as the Elastic Beanstalk load balancer does. Retries are limited to what is safe
 * for a POST: a connection that could not be made, or a 503 (leadgate answers 503 before it
 * persists anything, e.g. while draining).
 */
export interface Haproxy {
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backendPorts: number[]): Promise<Haproxy> {
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'leadgate-haproxy-'));
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(
    configPath,
    `global
  maxconn 2000

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout queue 5s
  # Readiness pings the store and the queue; an emulated DynamoDB under load can take a while.
  timeout check 5s
  option http-buffer-request
  retries 3
  retry-on conn-failure 503
  option redispatch 1

frontend web
  bind 127.0.0.1:${port}
  default_backend apis

backend apis
  balance roundrobin
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 300ms fall 3 rise 1
${backendPorts.map((p, i) => `  server api${i} 127.0.0.1:${p} check`).join('\n')}
`,
  );
  const child: ChildProcess = spawn('haproxy', ['-f', configPath, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once the frontend accepts connections.
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error('haproxy exited');
        return fetch(`http://127.0.0.1:${port}/health/live`).then(
          () => true,
          () => false,
        );
      },
      { what: 'haproxy to accept connections', timeoutMs: 10_000 },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`haproxy did not start (${(error as Error).message}): ${stderr.join('')}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
