import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('NODE_OPTIONS', () => {
  it('is the same in the Dockerfile, on Elastic Beanstalk and in the benchmark that measures them', () => {
    const docker = /NODE_OPTIONS="([^"]+)"/.exec(read('Dockerfile'))?.[1];
    const eb = /^\s*NODE_OPTIONS:\s*"([^"]+)"/m.exec(read('.ebextensions/01-environment.config'))?.[1];
    const bench = /DEPLOYED_NODE_OPTIONS = '([^']+)'/.exec(read('bench/run.ts'))?.[1];
    expect(docker).toBe('--max-semi-space-size=4 --max-old-space-size=512');
    expect(eb).toBe(docker);
    expect(bench).toBe(docker);
  });
});
