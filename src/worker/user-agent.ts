import { readFileSync } from 'node:fs';

/**
 * `leadgate/<version>` from package.json, read once. The same relative path works from
 * `src/worker` (tests) and `dist/worker` (the build), since both sit two levels below the root;
 * package.json cannot be imported because it is outside tsc's rootDir.
 */
export function leadgateUserAgent(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? `leadgate/${pkg.version}` : 'leadgate';
  } catch {
    return 'leadgate';
  }
}
