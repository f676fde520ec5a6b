import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import type { Env } from '../config/env.js';
import { createPrivacyHasher, type PrivacyHasher } from '../domain/fingerprint.js';

/** The key file of the embedded store, generated once beside the database. */
export const PRIVACY_KEY_FILE = 'privacy.key';

/**
 * The key of the keyed hashes: LEADGATE_PRIVACY_KEY, else (SQLite only) `<data dir>/privacy.key`,
 * created on first use with 32 random bytes, readable by its owner only (0600). Losing it breaks
 * duplicate detection and finding a person's leads, so it is backed up with the database.
 * DynamoDB has no data dir shared by the instances: env.ts requires the variable there.
 */
export function resolvePrivacyKey(env: Pick<Env, 'LEADGATE_PRIVACY_KEY' | 'LEADGATE_STORE' | 'LEADGATE_DATA_DIR'>): PrivacyHasher {
  if (env.LEADGATE_PRIVACY_KEY !== undefined) return createPrivacyHasher(env.LEADGATE_PRIVACY_KEY);
  if (env.LEADGATE_STORE !== 'sqlite') throw new ConfigError(['LEADGATE_PRIVACY_KEY: is required when LEADGATE_STORE=dynamodb']);
  return createPrivacyHasher(readOrCreateKeyFile(env.LEADGATE_DATA_DIR));
}

function readOrCreateKeyFile(dataDir: string): string {
  const file = join(dataDir, PRIVACY_KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    // `wx`: of two processes starting at once, one creates it and the other reads it.
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 32) throw new ConfigError([`LEADGATE_PRIVACY_KEY: ${file} holds no key (at least 32 characters); restore it from a backup`]);
  return key;
}
