import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupAfterAll } from '../helpers/cleanups.js';
import { AUTH, CONTRACT_CODES, JSON_CT, corpus, send, sendCase, valid } from '../helpers/malformed-corpus.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';

/** The malformed corpus against a spawned `leadgate serve`, exactly as a website would send it. */

const cleanups = cleanupAfterAll();
const workspace = makeWorkspace(`brands:
  - id: merciplus
    api_keys: ["mp-key-0123456789abcdefghij"]
    default_country: FR
`);
cleanups.push(() => workspace.cleanup());
let leadgate: LeadgateProcess;
let port: number;

beforeAll(async () => {
  leadgate = await startLeadgate('serve', { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir });
  // After the corpus, a clean SIGTERM exit: nothing in it left leadgate unable to shut down.
  cleanups.push(async () => {
    leadgate.child.kill('SIGTERM');
    expect(await leadgate.exited).toBe(0);
  });
  port = Number(new URL(leadgate.url).port);
});

describe('malformed requests against leadgate serve', () => {
  it(`answers each of the ${corpus.length} cases with a contract 4xx, then stays healthy`, async () => {
    const wrong: string[] = [];
    for (const c of corpus) {
      const { reply, body } = await sendCase(port, c);
      const ok = reply.status === c.status && body.error === c.error && CONTRACT_CODES.has(body.error as string) && typeof body.message === 'string';
      if (!ok) wrong.push(`${c.name}: ${reply.status} ${reply.body.slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);

    expect((await send(port, { method: 'GET', path: '/health/live', headers: {} })).status).toBe(200);
    expect((await send(port, { method: 'GET', path: '/health/ready', headers: {} })).status).toBe(200);
    const accepted = await send(port, { headers: { ...AUTH, ...JSON_CT }, body: JSON.stringify(valid) });
    expect(accepted.status).toBe(202);
    // Nothing logged at error level or above, and no stack trace on stderr.
    expect(leadgate.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(leadgate.stderr).toEqual([]);
  });
});
