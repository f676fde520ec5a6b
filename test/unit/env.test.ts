import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { envSchema, loadEnv } from '../../src/config/env.js';

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

  it('.env.example lists exactly the variables of the schema', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=')[0]);
    expect(listed.sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
