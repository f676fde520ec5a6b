import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePrivacyKey } from '../../src/privacy/key.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { envSchema, loadEnv, opsListener } from '../../src/config/env.js';

describe('environment', () => {
  it('defaults to the embedded set-up', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 3000, HOST: '0.0.0.0', LEADGATE_STORE: 'sqlite', LEADGATE_QUEUE: 'sqlite', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: 30000 });
    expect(env.LEADGATE_ADMIN_TOKEN).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    try {
      loadEnv({ PORT: 'eighty', LOG_LEVEL: 'loud', LEADGATE_QUEUE: 'bullmq' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/^PORT: /m);
      expect(problems).toMatch(/^LOG_LEVEL: /m);
      expect(problems).toMatch(/^REDIS_URL: is required when LEADGATE_QUEUE=bullmq/m);
    }
  });

  it('refuses the sqlite queue with another store', () => {
    expect(() => loadEnv({ LEADGATE_STORE: 'dynamodb' })).toThrow(/LEADGATE_QUEUE: sqlite works only with LEADGATE_STORE=sqlite/);
  });

  it('wants an admin token of at least 32 characters, and reads the ops listener and trusted proxies', () => {
    expect(() => loadEnv({ LEADGATE_ADMIN_TOKEN: 'short-token' })).toThrow(/LEADGATE_ADMIN_TOKEN: must be at least 32 characters/);
    expect(opsListener(loadEnv({}))).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(opsListener(loadEnv({ LEADGATE_OPS_PORT: '0' }))).toBeNull();
    expect(opsListener(loadEnv({ LEADGATE_WORKER_METRICS_PORT: '9100' }))).toEqual({ port: 9100, host: '127.0.0.1' });
    expect(opsListener(loadEnv({ LEADGATE_WORKER_METRICS_PORT: '9100', LEADGATE_OPS_PORT: '9200' }))?.port).toBe(9200);
    // A worker alone takes its own port first: an api and a worker can share one environment.
    expect(opsListener(loadEnv({ LEADGATE_WORKER_METRICS_PORT: '9100', LEADGATE_OPS_PORT: '9200' }), { workerOnly: true })?.port).toBe(9100);
    expect(loadEnv({ LEADGATE_TRUST_PROXY: '1' }).LEADGATE_TRUST_PROXY).toBe(1);
    expect(loadEnv({ LEADGATE_TRUST_PROXY: '10.0.0.0/8, 172.16.0.0/12' }).LEADGATE_TRUST_PROXY).toEqual(['10.0.0.0/8', '172.16.0.0/12']);
    expect(() => loadEnv({ LEADGATE_TRUST_PROXY: 'everyone' })).toThrow(/LEADGATE_TRUST_PROXY: must be a hop count/);
  });

  it('requires LEADGATE_PRIVACY_KEY on DynamoDB, at least 32 characters', () => {
    expect(() => loadEnv({ LEADGATE_STORE: 'dynamodb', LEADGATE_QUEUE: 'sqs', SQS_QUEUE_URL: 'http://q' })).toThrow(/LEADGATE_PRIVACY_KEY: is required when LEADGATE_STORE=dynamodb/);
    expect(() => loadEnv({ LEADGATE_PRIVACY_KEY: 'short' })).toThrow(/LEADGATE_PRIVACY_KEY: must be at least 32 characters/);
    expect(loadEnv({ LEADGATE_STORE: 'dynamodb', LEADGATE_QUEUE: 'sqs', SQS_QUEUE_URL: 'http://q', LEADGATE_PRIVACY_KEY: 'k'.repeat(32) }).LEADGATE_PRIVACY_KEY).toBe('k'.repeat(32));
  });

  it('on SQLite without LEADGATE_PRIVACY_KEY, generates <data dir>/privacy.key once, mode 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadgate-key-'));
    try {
      const env = { LEADGATE_STORE: 'sqlite' as const, LEADGATE_DATA_DIR: join(dir, 'data'), LEADGATE_PRIVACY_KEY: undefined };
      const first = resolvePrivacyKey(env).hash('x');
      const file = join(dir, 'data', 'privacy.key');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
      expect(resolvePrivacyKey(env).hash('x')).toBe(first); // read back, not regenerated
      expect(resolvePrivacyKey({ ...env, LEADGATE_PRIVACY_KEY: 'another-key-0123456789abcdef0123' }).hash('x')).not.toBe(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('.env.example lists exactly the variables of the schema', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=')[0]);
    expect(listed.sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
