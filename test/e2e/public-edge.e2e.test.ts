import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { startFakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, SIGNING_SECRET } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, runConcurrently } from '../helpers/http-client.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { HOSTILE_STRINGS, INTERNATIONAL_STRINGS } from '../helpers/unicode-corpus.js';

/**
 * The public edge against a spawned leadgate, as the internet meets it: an abusive client on
 * its own loopback address (127.0.0.2, a distinct client IP for the process) next to a real
 * visitor on 127.0.0.1; bots; hostile and international text.
 */

const cleanups = cleanupAfterEach();
const ORIGIN = 'https://www.merci-plus.example';
const SECRET = 'e2e-secret-key-merciplus-0123456789';
const PUBLISHABLE = 'e2e-publishable-key-merciplus-0123';

function config(crmUrl: string): string {
  return `brands:
  - id: merciplus
    api_keys: ["${SECRET}"]
    publishable_keys: ["${PUBLISHABLE}"]
    allowed_origins: ["${ORIGIN}"]
    default_country: FR
    bot_protection: { min_fill_seconds: 3 }
destinations:
  - id: crm-main
    url: "${crmUrl}"
    timeout_ms: 2000
    signing_secret: "${SIGNING_SECRET}"
    retry: { delays: ["50ms", "100ms"] }
routes:
  - destinations: [crm-main]
`;
}

async function start(command: 'api' | 'serve', crmUrl = 'http://127.0.0.1:9/leads'): Promise<LeadgateProcess> {
  const workspace = makeWorkspace(config(crmUrl));
  cleanups.push(() => workspace.cleanup());
  const leadgate = await startLeadgate(command, {
    LEADGATE_CONFIG: workspace.configPath,
    LEADGATE_DATA_DIR: workspace.dataDir,
    LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  cleanups.push(async () => {
    if (leadgate.child.exitCode === null) leadgate.child.kill('SIGTERM');
    await leadgate.exited;
  });
  return leadgate;
}

/** A client whose every connection leaves from `address`: the server sees that client IP. */
function clientAt(address: string) {
  const agent = new Agent({ localAddress: address, connections: 64 });
  cleanups.push(() => agent.close());
  return async (url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; ms: number }> => {
    const started = performance.now();
    const res = await request(`${url}/v1/leads`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    await res.body.dump();
    return { status: res.statusCode, ms: performance.now() - started };
  };
}

const fromPage = { authorization: `Bearer ${PUBLISHABLE}`, origin: ORIGIN };
const shownAgo = (ms: number) => new Date(Date.now() - ms).toISOString();
const human = () => ({ ...EXAMPLE_LEAD, bot: { honeypot: '', form_shown_at: shownAgo(30_000) } });

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]!;
}

describe('abuse against a spawned leadgate api', () => {
  it('one client flooding bad requests and key guesses does not lock out the brand’s visitors', async () => {
    const api = await start('api');
    const abuser = clientAt('127.0.0.2');
    const guesser = clientAt('127.0.0.3');
    const visitor = clientAt('127.0.0.1');

    // 200 bad requests with the brand's own (public) key, from one IP.
    const bad = await runConcurrently(200, 20, () => abuser(api.url, {}, fromPage));
    const badStatuses = count(bad.map((r) => r.status));
    expect(badStatuses).toEqual({ 400: 30, 429: 170 });
    // 50 key guesses from another IP: the first 10 learn 401, the rest wait.
    const guesses = await runConcurrently(50, 10, (i) => guesser(api.url, EXAMPLE_LEAD, { authorization: `Bearer guess-${i}-0123456789abcdefgh` }));
    expect(count(guesses.map((r) => r.status))).toEqual({ 401: 10, 429: 40 });

    // The brand's real visitor, from another IP, is served.
    expect((await visitor(api.url, human(), fromPage)).status).toBe(202);
    expect((await abuser(api.url, human(), fromPage)).status).toBe(429);
  });

  it('a brand without rate_limit under a flood of 3,000 requests: the process stays up and serves the visitor', async () => {
    const api = await start('api');
    const abuser = clientAt('127.0.0.2');
    const visitor = clientAt('127.0.0.1');
    const server = clientAt('127.0.0.4');

    const flood = runConcurrently(3_000, 50, (i) =>
      i % 3 === 0
        ? abuser(api.url, '{"contact":', { ...fromPage })
        : i % 3 === 1
          ? abuser(api.url, EXAMPLE_LEAD, { authorization: `Bearer guess-${i}-0123456789abcdefgh` })
          : abuser(api.url, human(), fromPage),
    );
    // Meanwhile a visitor sends 20 leads and the brand's server 40, one after the other.
    const visits: number[] = [];
    const visitorStatuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await visitor(api.url, human(), fromPage);
      visitorStatuses.push(r.status);
      visits.push(r.ms);
    }
    for (let i = 0; i < 40; i++) {
      const r = await server(api.url, EXAMPLE_LEAD, { authorization: `Bearer ${SECRET}` });
      visitorStatuses.push(r.status);
      visits.push(r.ms);
    }
    const flooded = await flood;
    expect(visitorStatuses.every((s) => s === 202)).toBe(true);
    expect(flooded.every((r) => [400, 401, 202, 429].includes(r.status))).toBe(true);
    expect((await getJson(`${api.url}/health/live`)).status).toBe(200);
    // A figure for the note, not a pass mark: latency of the legitimate requests during the flood.
    console.log(`[public-edge] flood of ${flooded.length}: ${JSON.stringify(count(flooded.map((r) => r.status)))}; legitimate requests p50 ${quantile(visits, 0.5).toFixed(1)} ms, p99 ${quantile(visits, 0.99).toFixed(1)} ms, max ${Math.max(...visits).toFixed(1)} ms`);
  });
});

describe('bots and text, through a spawned leadgate serve to a CRM', () => {
  it('keeps bots out of the CRM, refuses hostile text and forwards international text byte for byte', async () => {
    const crm = await startFakeCrm();
    cleanups.push(() => crm.close());
    const serve = await start('serve', crm.url);
    const visitor = clientAt('127.0.0.1');
    const post = async (body: unknown, headers: Record<string, string> = fromPage) => {
      const res = await request(`${serve.url}/v1/leads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, body: (await res.body.json()) as { id?: string; error?: string; details?: Array<{ path: string }> } };
    };

    const honeypot = await post({ ...EXAMPLE_LEAD, bot: { honeypot: 'https://spam.example', form_shown_at: shownAgo(30_000) } });
    const tooFast = await post({ ...EXAMPLE_LEAD, bot: { form_shown_at: shownAgo(500) } });
    expect([honeypot.status, tooFast.status]).toEqual([202, 202]);

    // Hostile text: every one refused, naming the field.
    const fields = ['/contact/first_name', '/contact/last_name', '/message', '/contact/city'] as const;
    const refused: string[] = [];
    for (const [i, hostile] of HOSTILE_STRINGS.entries()) {
      const field = fields[i % fields.length]!;
      const lead = withField(field, `Camille${hostile.value}Martin`);
      const res = await post(lead, { authorization: `Bearer ${SECRET}` });
      if (res.status !== 400 || res.body.error !== 'validation_failed' || !res.body.details?.some((d) => d.path === field)) {
        refused.push(`${hostile.name}: ${res.status}`);
      }
    }
    expect(refused, 'hostile strings that were not refused with the field named').toEqual([]);

    // International text: accepted and forwarded exactly as sent (after trimming).
    const sent: Array<{ id: string; first: string; message: string }> = [];
    for (const text of INTERNATIONAL_STRINGS) {
      const lead = { ...EXAMPLE_LEAD, contact: { ...EXAMPLE_LEAD.contact, first_name: text.name }, message: text.message, bot: { form_shown_at: shownAgo(30_000) } };
      const res = await visitor(serve.url, lead, fromPage);
      expect(res.status, text.name).toBe(202);
    }
    await crm.waitForRequests(INTERNATIONAL_STRINGS.length, { timeoutMs: 30_000 });
    for (const body of crm.bodies<{ data: { id: string; contact: { first_name: string }; message: string } }>()) {
      sent.push({ id: body.data.id, first: body.data.contact.first_name, message: body.data.message });
    }
    expect(sent.map((s) => [s.first, s.message]).sort()).toEqual(INTERNATIONAL_STRINGS.map((t) => [t.name, t.message]).sort());
    // Byte for byte: the raw request bodies hold the UTF-8 of each name.
    const raw = Buffer.concat(crm.requests.map((r) => Buffer.from(r.body, 'utf8')));
    for (const text of INTERNATIONAL_STRINGS) expect(raw.includes(Buffer.from(JSON.stringify(text.name).slice(1, -1), 'utf8')), text.name).toBe(true);

    // The bots' leads were kept as spam and never sent.
    const ids = new Set(sent.map((s) => s.id));
    expect(ids.has(honeypot.body.id!)).toBe(false);
    expect(ids.has(tooFast.body.id!)).toBe(false);
    for (const id of [honeypot.body.id!, tooFast.body.id!]) {
      const view = await getJson(`${serve.opsUrl}/v1/leads/${id}`, ADMIN_TOKEN);
      expect(view.body).toMatchObject({ status: 'spam', deliveries: [] });
    }
    const metrics = await (await fetch(`${serve.opsUrl}/metrics`)).text();
    expect(metrics).toContain('leadgate_leads_spam_total{brand="merciplus",reason="honeypot"} 1');
    expect(metrics).toContain('leadgate_leads_spam_total{brand="merciplus",reason="too_fast"} 1');
  });
});

function withField(pointer: string, value: string): unknown {
  const lead = structuredClone(EXAMPLE_LEAD) as Record<string, any>;
  const [, first, second] = pointer.split('/');
  if (second === undefined) lead[first!] = value;
  else lead[first!][second] = value;
  return lead;
}

function count(values: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
