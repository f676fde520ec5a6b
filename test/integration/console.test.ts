import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { maskEmail, maskPhone } from '../../src/http/console/mask.js';
import { buildTestApps } from '../helpers/apps.js';
import { brand, destination, route } from '../helpers/config-factories.js';
import { FakeQueue } from '../helpers/fake-queue.js';
import { MemoryStore } from '../helpers/memory-store.js';

/**
 * The console's HTTP rules over app.inject (the browser flows are in test/e2e/console.e2e.test.ts):
 * where it exists, sign-in, cookie flags, CSRF, the sign-in throttle, audit lines, masking.
 */

const TOKEN = 'console-admin-token-0123456789abcdef';

const config: LeadgateConfig = {
  brands: [brand({ id: 'merciplus', apiKeys: ['mp-key-0123456789abcdef01'] })],
  destinations: [destination({ id: 'crm-main', url: 'http://127.0.0.1:9/leads' })],
  routes: [route({ destinations: ['crm-main'] })],
};

interface Harness {
  opsApp: FastifyInstance;
  publicApp: FastifyInstance;
  store: MemoryStore;
  logs: Array<Record<string, unknown>>;
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(options: { adminToken?: string | null; opsTrustProxy?: string[] } = {}): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const store = new MemoryStore();
  const { opsApp, publicApp } = await buildTestApps({
    config,
    store,
    queue: new FakeQueue(),
    logger: pino({ level: 'info' }, sink),
    adminToken: options.adminToken === undefined ? TOKEN : options.adminToken,
    opsTrustProxy: options.opsTrustProxy,
  });
  apps.push(opsApp, publicApp);
  return { opsApp, publicApp, store, logs };
}

/** The cookies a response sets, by name, with their attributes as written. */
function setCookies(res: LightMyRequestResponse): Map<string, string> {
  const header = res.headers['set-cookie'];
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return new Map(list.map((line) => [line.slice(0, line.indexOf('=')), line]));
}

const cookieValue = (line: string | undefined): string => (line ?? '').split(';')[0]!.split('=').slice(1).join('=');
const hiddenCsrf = (body: string): string => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

/** GET the sign-in form, then POST it with `token`: the response, and the nonce cookie sent. */
async function signIn(app: FastifyInstance, token: string, headers: Record<string, string> = {}) {
  const form = await app.inject({ method: 'GET', url: '/console/sign-in', headers });
  const nonce = cookieValue(setCookies(form).get('leadgate_console_signin'));
  return app.inject({
    method: 'POST',
    url: '/console/sign-in',
    headers: { ...headers, cookie: `leadgate_console_signin=${nonce}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: hiddenCsrf(form.body), token }).toString(),
  });
}

describe('ops console over HTTP', () => {
  it('exists on the ops listener only, and only with an admin token', async () => {
    const { opsApp, publicApp } = await start();
    expect((await publicApp.inject({ method: 'GET', url: '/console' })).statusCode).toBe(404);
    expect((await publicApp.inject({ method: 'GET', url: '/console/sign-in' })).statusCode).toBe(404);
    const signInPage = await opsApp.inject({ method: 'GET', url: '/console/sign-in' });
    expect(signInPage.statusCode).toBe(200);
    expect(signInPage.headers['content-security-policy']).toContain("script-src 'self'");
    expect(signInPage.headers['content-security-policy']).not.toContain('unsafe-inline');
    // Signed out, a page sends the browser to the sign-in form.
    const overview = await opsApp.inject({ method: 'GET', url: '/console' });
    expect(overview.statusCode).toBe(303);
    expect(overview.headers.location).toBe('/console/sign-in');

    const off = await start({ adminToken: null });
    expect((await off.opsApp.inject({ method: 'GET', url: '/console' })).statusCode).toBe(404);
    expect((await off.opsApp.inject({ method: 'GET', url: '/console/sign-in' })).statusCode).toBe(404);
  });

  it('signs in with the admin token: an HttpOnly, SameSite=Strict cookie for 8 h, Secure behind a TLS proxy', async () => {
    const { opsApp } = await start({ opsTrustProxy: ['127.0.0.1'] });
    const wrong = await signIn(opsApp, 'not-the-token');
    expect(wrong.statusCode).toBe(401);
    expect(setCookies(wrong).has('leadgate_console')).toBe(false);

    const ok = await signIn(opsApp, TOKEN);
    expect(ok.statusCode).toBe(303);
    const session = setCookies(ok).get('leadgate_console')!;
    expect(session).toMatch(/; Max-Age=28800/);
    expect(session).toMatch(/; Path=\/console/);
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; SameSite=Strict/);
    expect(session).not.toMatch(/Secure/);

    const overHttps = await signIn(opsApp, TOKEN, { 'x-forwarded-proto': 'https' });
    expect(setCookies(overHttps).get('leadgate_console')).toMatch(/; Secure/);
    const page = await opsApp.inject({ method: 'GET', url: '/console', cookies: { leadgate_console: cookieValue(session) } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('crm-main');
  });

  it('refuses a POST without or with a wrong CSRF token (403), and a sign-in form without its nonce', async () => {
    const { opsApp, logs } = await start();
    const session = cookieValue(setCookies(await signIn(opsApp, TOKEN)).get('leadgate_console'));
    const post = (payload: Record<string, string>) =>
      opsApp.inject({
        method: 'POST',
        url: '/console/destinations/crm-main/pause',
        cookies: { leadgate_console: session },
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(payload).toString(),
      });
    expect((await post({})).statusCode).toBe(403);
    expect((await post({ _csrf: 'forged' })).statusCode).toBe(403);
    const page = await opsApp.inject({ method: 'GET', url: '/console/destinations', cookies: { leadgate_console: session } });
    expect((await post({ _csrf: hiddenCsrf(page.body) })).statusCode).toBe(303);
    const denied = logs.filter((l) => l.msg === 'admin audit' && l.action === 'POST /console/destinations/:id/pause');
    expect(denied.map((l) => [l.statusCode, l.outcome, l.actor, l.destination])).toEqual([
      [403, 'denied', 'console', 'crm-main'],
      [403, 'denied', 'console', 'crm-main'],
      [303, 'ok', 'console', 'crm-main'],
    ]);

    const noNonce = await opsApp.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: 'x', token: TOKEN }).toString(),
    });
    expect(noNonce.statusCode).toBe(403);
    expect(setCookies(noNonce).has('leadgate_console')).toBe(false);
  });

  it('signing out revokes the session; a forged or altered cookie is no session', async () => {
    const { opsApp } = await start();
    const session = cookieValue(setCookies(await signIn(opsApp, TOKEN)).get('leadgate_console'));
    const page = await opsApp.inject({ method: 'GET', url: '/console', cookies: { leadgate_console: session } });
    const out = await opsApp.inject({
      method: 'POST',
      url: '/console/sign-out',
      cookies: { leadgate_console: session },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${hiddenCsrf(page.body)}`,
    });
    expect(out.statusCode).toBe(303);
    expect(setCookies(out).get('leadgate_console')).toMatch(/Max-Age=0/);
    expect((await opsApp.inject({ method: 'GET', url: '/console', cookies: { leadgate_console: session } })).statusCode).toBe(303);
    const [id, expiry, mac] = session.split('.');
    const longer = `${id}.${Number(expiry) + 3600}.${mac}`;
    expect((await opsApp.inject({ method: 'GET', url: '/console', cookies: { leadgate_console: longer } })).statusCode).toBe(303);
    expect((await opsApp.inject({ method: 'GET', url: '/console/overview', cookies: { leadgate_console: 'x.y.z' } })).statusCode).toBe(401);
  });

  it('slows down an IP after five failed sign-ins (the admin API budget), and logs each attempt', async () => {
    const { opsApp, logs } = await start();
    for (let i = 0; i < 5; i++) expect((await signIn(opsApp, `wrong-${i}`)).statusCode).toBe(401);
    const sixth = await signIn(opsApp, TOKEN);
    expect(sixth.statusCode).toBe(429);
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    // The admin API shares the budget: the same IP is turned away there too.
    expect((await opsApp.inject({ method: 'GET', url: '/v1/destinations', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(429);
    const attempts = logs.filter((l) => l.msg === 'admin audit' && l.action === 'POST /console/sign-in');
    expect(attempts.map((l) => [l.statusCode, l.actor, l.outcome])).toEqual([
      ...Array.from({ length: 5 }, () => [401, 'unauthenticated', 'denied']),
      [429, 'unauthenticated', 'denied'],
    ]);
    for (const line of attempts) expect(JSON.stringify(line)).not.toContain(TOKEN);
  });

  it('masks email and phone as the console shows them', () => {
    expect(maskEmail('camille.martin@example.fr')).toBe('c*****@e******.fr');
    expect(maskPhone('+33612345678')).toBe('+33 6 ** ** ** 78');
  });
});
