import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadgateConfig } from '../../src/domain/config.js';
import { maskEmail, maskPhone } from '../../src/http/console/mask.js';
import { createErasureRunner } from '../../src/privacy/erasure-runner.js';
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
  queue: FakeQueue;
  logs: Array<Record<string, unknown>>;
  /** How many times the console woke the erasure runner. */
  wakes: { count: number };
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
  const queue = new FakeQueue();
  const wakes = { count: 0 };
  const { opsApp, publicApp } = await buildTestApps({
    config,
    store,
    queue,
    onErasureRequested: () => (wakes.count += 1),
    logger: pino({ level: 'info' }, sink),
    adminToken: options.adminToken === undefined ? TOKEN : options.adminToken,
    opsTrustProxy: options.opsTrustProxy,
  });
  apps.push(opsApp, publicApp);
  return { opsApp, publicApp, store, queue, logs, wakes };
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

describe('ops console: a person (search, export, erasure)', () => {
  const EMAIL = 'camille.quintavalle@example.fr';
  const PHONE = '+33612345678';
  /** Every form of the person's identifiers that must never reach a log line. */
  const PERSONAL = ['quintavalle', '612345678', '06 12 34 56 78'];

  async function postLead(h: Harness, contact: Record<string, string>): Promise<string> {
    const res = await h.publicApp.inject({
      method: 'POST',
      url: '/v1/leads',
      headers: { authorization: 'Bearer mp-key-0123456789abcdef01', 'content-type': 'application/json' },
      payload: {
        contact: { first_name: 'Camille', last_name: 'Quintavalle', postal_code: '75011', ...contact },
        service: 'menage',
        consent: { contact: true, marketing: false, text: "J'accepte d'être recontacté", text_version: 'v2' },
        source: { url: 'https://www.merci-plus.example/devis', form: 'devis' },
      },
    });
    expect(res.statusCode, res.body).toBe(202);
    return res.json<{ id: string }>().id;
  }

  /** Signed in: the session cookie, and a POST of a form with that session's CSRF token (unless given). */
  async function signedIn(h: Harness) {
    const session = cookieValue(setCookies(await signIn(h.opsApp, TOKEN)).get('leadgate_console'));
    const csrf = hiddenCsrf((await h.opsApp.inject({ method: 'GET', url: '/console/privacy', cookies: { leadgate_console: session } })).body);
    expect(csrf).not.toBe('');
    return {
      get: (url: string) => h.opsApp.inject({ method: 'GET', url, cookies: { leadgate_console: session } }),
      post: (url: string, fields: Record<string, string>, withCsrf = true) =>
        h.opsApp.inject({
          method: 'POST',
          url,
          cookies: { leadgate_console: session },
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams(withCsrf ? { _csrf: csrf, ...fields } : fields).toString(),
        }),
    };
  }

  /** The person: one lead by email and phone, one by phone alone; and a stranger. */
  async function seed(h: Harness) {
    const both = await postLead(h, { email: 'Camille.Quintavalle@Example.fr', phone: '06.12.34.56.78' });
    const phoneOnly = await postLead(h, { phone: PHONE });
    const stranger = await postLead(h, { email: 'dominique.stranger@example.fr', phone: '+33698765432' });
    return { both, person: [both, phoneOnly].sort(), stranger };
  }

  const leadLinks = (body: string): string[] => [...body.matchAll(/href="\/console\/leads\/([0-9a-f-]{36})"/g)].map((m) => m[1]!).sort();

  function expectNoIdentifierIn(lines: Array<Record<string, unknown>>): void {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const text = JSON.stringify(line).toLowerCase();
      for (const personal of PERSONAL) expect(text).not.toContain(personal);
    }
  }

  it('shows Privacy in the nav; finds a person\'s leads by email, and by phone written another way', async () => {
    const h = await start();
    const { both, person, stranger } = await seed(h);
    const c = await signedIn(h);
    expect((await c.get('/console')).body).toContain('<a href="/console/privacy"');

    // The Leads page's person search is a POST form with the session's CSRF token.
    const leadsPage = (await c.get('/console/leads')).body;
    const personForm = /<form[^>]*action="\/console\/leads\/by-person">[\s\S]*?<\/form>/.exec(leadsPage)?.[0] ?? '';
    expect(personForm).toContain('method="post"');
    expect(hiddenCsrf(personForm)).toBe(hiddenCsrf(leadsPage));
    expect(hiddenCsrf(personForm)).not.toBe('');
    const byEmail = await c.post('/console/leads/by-person', { identifier: ` ${EMAIL.toUpperCase()} ` });
    expect(byEmail.statusCode).toBe(200);
    expect(leadLinks(byEmail.body)).toEqual([both]);
    const byPhone = await c.post('/console/leads/by-person', { identifier: '06 12 34 56 78' });
    expect(byPhone.statusCode).toBe(200);
    expect(leadLinks(byPhone.body)).toEqual(person);
    expect(byPhone.body).not.toContain(stranger);

    const invalid = await c.post('/console/leads/by-person', { identifier: '12' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.body).toContain('role="alert"');
    expect(invalid.body).toContain('The phone number must be a valid phone number.');
    expectNoIdentifierIn(h.logs.filter((l) => l.msg === 'admin audit' && l.action === 'POST /console/leads/by-person'));
  });

  it('refuses the privacy POSTs without the session\'s CSRF token (403): nothing exported or recorded', async () => {
    const h = await start();
    await seed(h);
    const c = await signedIn(h);
    const forms: Array<[string, Record<string, string>]> = [
      ['/console/privacy/export', { identifier: EMAIL }],
      ['/console/privacy/erase', { identifier: EMAIL }],
      ['/console/privacy/erasures', { identifier: EMAIL, confirm: EMAIL }],
    ];
    for (const [url, fields] of forms) {
      for (const payload of [fields, { ...fields, _csrf: 'forged' }]) {
        const res = await c.post(url, payload, false);
        expect(res.statusCode, url).toBe(403);
        expect(res.headers['content-disposition']).toBeUndefined();
      }
    }
    expect(await h.store.pendingErasures(10)).toEqual([]);
    expect(await h.store.listPrivacyAudit(10)).toEqual([]);
    expect(h.wakes.count).toBe(0);
    const denied = h.logs.filter((l) => l.msg === 'admin audit' && String(l.action).startsWith('POST /console/privacy/'));
    expect(denied.map((l) => [l.action, l.statusCode, l.outcome])).toEqual(
      forms.flatMap(([url]) => [[`POST ${url}`, 403, 'denied'], [`POST ${url}`, 403, 'denied']]),
    );
  });

  it('exports a person as a JSON attachment (by phone, any form), audited without the identifier', async () => {
    const h = await start();
    const { person, stranger } = await seed(h);
    const c = await signedIn(h);
    const res = await c.post('/console/privacy/export', { identifier: '06 12 34 56 78', brand: '' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="leadgate-export-\d{4}-\d{2}-\d{2}\.json"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<{ exported_at: string; leads: Array<{ id: string; contact: { phone: string }; deliveries: unknown[] }> }>();
    expect(body.leads.map((l) => l.id).sort()).toEqual(person);
    expect(body.leads.every((l) => l.contact.phone === PHONE && l.deliveries.length === 1)).toBe(true);
    expect(res.body).not.toContain(stranger);

    // A brand not in the config, or an identifier that is neither: the form again, no download.
    const unknownBrand = await c.post('/console/privacy/export', { identifier: EMAIL, brand: 'nope' });
    expect(unknownBrand.statusCode).toBe(400);
    expect(unknownBrand.body).toContain('The brand is not a brand of the config.');
    const invalid = await c.post('/console/privacy/export', { identifier: 'not-an-email@' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.headers['content-disposition']).toBeUndefined();

    const audit = h.logs.filter((l) => l.msg === 'admin audit' && l.action === 'POST /console/privacy/export');
    expect(audit.map((l) => [l.actor, l.statusCode, l.outcome])).toEqual([
      ['console', 200, 'ok'],
      ['console', 400, 'error'],
      ['console', 400, 'error'],
    ]);
    expectNoIdentifierIn(audit);
    // The use case's own record: actor console, the keyed hash only.
    const records = await h.store.listPrivacyAudit(10);
    expect(records.map((r) => [r.action, r.actor, r.leads])).toEqual([['export', 'console', 2]]);
    expectNoIdentifierIn(h.logs.filter((l) => l.msg === 'privacy audit'));
  });

  it('erases only when the identifier is typed again: a mismatch erases nothing; a match records it, wakes the runner, and its page follows it to done', async () => {
    const h = await start();
    const { both, person, stranger } = await seed(h);
    // crm-main received the lead with the email: it is told of the erasure.
    const [delivery] = await h.store.listDeliveriesOfLead(both);
    await h.store.recordAttempt({
      attempt: { deliveryId: delivery!.id, number: 1, startedAt: Date.now(), durationMs: 5, statusCode: 200, errorClass: null, error: null, responseBody: 'ok', outcome: 'delivered' },
      status: 'delivered',
      nextAttemptAt: null,
    });
    const c = await signedIn(h);

    const confirm = await c.post('/console/privacy/erase', { identifier: EMAIL, brand: 'merciplus' });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('Type the email or phone again to confirm');
    expect(confirm.body).toContain('name="confirm"');

    const mismatch = await c.post('/console/privacy/erasures', { identifier: EMAIL, brand: 'merciplus', confirm: 'dominique.stranger@example.fr' });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.body).toContain('What you typed again does not match: nothing was erased.');
    const empty = await c.post('/console/privacy/erasures', { identifier: EMAIL, brand: 'merciplus', confirm: '' });
    expect(empty.statusCode).toBe(400);
    expect(await h.store.pendingErasures(10)).toEqual([]);
    expect(h.wakes.count).toBe(0);
    expect(await h.store.getLead(both)).toHaveProperty('service', 'menage');

    // Typed again another way (case, spaces): the same person.
    const recorded = await c.post('/console/privacy/erasures', { identifier: EMAIL, brand: 'merciplus', confirm: ` ${EMAIL.toUpperCase()}` });
    expect(recorded.statusCode, recorded.body).toBe(303);
    const location = String(recorded.headers.location);
    const id = /^\/console\/privacy\/erasures\/([0-9a-f-]{36})$/.exec(location)?.[1];
    expect(id).toBeDefined();
    expect(h.wakes.count).toBe(1);

    const pending = await c.get(location);
    expect(pending.statusCode).toBe(200);
    expect(pending.body).toContain(`data-refresh="/console/privacy/erasures/${id}/progress"`);
    expect(pending.body).toMatch(/id="erasure-status"><span class="badge warn">pending</);

    const runner = createErasureRunner({ store: h.store, queue: h.queue, logger: pino({ level: 'silent' }), now: Date.now, batchSize: 1 });
    expect(await runner.runPending()).toBe(1);
    const done = await c.get(`${location}/progress`);
    expect(done.statusCode).toBe(200);
    expect(done.body).toMatch(/id="erasure-status"><span class="badge ok">done</);
    expect(done.body).toMatch(/id="erasure-leads">1</);
    expect(done.body).toMatch(/<tr data-destination="crm-main">[\s\S]*?data-label="Notices">1</);
    // The email's lead is a tombstone; the phone-only lead has no email: not this erasure's.
    expect(await h.store.getLead(both)).toHaveProperty('erased_at');
    for (const other of [...person.filter((p) => p !== both), stranger]) expect(await h.store.getLead(other)).toHaveProperty('service', 'menage');
    expect((await c.get('/console/privacy/erasures/00000000-0000-7000-8000-000000000000')).statusCode).toBe(404);

    const audit = h.logs.filter((l) => l.msg === 'admin audit' && String(l.action).includes('/console/privacy/'));
    expect(audit.map((l) => [l.action, l.statusCode, l.erasureId])).toEqual([
      ['POST /console/privacy/erase', 200, undefined],
      ['POST /console/privacy/erasures', 400, undefined],
      ['POST /console/privacy/erasures', 400, undefined],
      ['POST /console/privacy/erasures', 303, id],
      ['GET /console/privacy/erasures/:id', 200, id],
      ['GET /console/privacy/erasures/:id', 404, '00000000-0000-7000-8000-000000000000'],
    ]);
    expectNoIdentifierIn(audit);
    const records = (await h.store.listPrivacyAudit(10)).map((r) => [r.action, r.actor, r.erasureId]);
    expect(records.sort()).toEqual([
      ['erasure_done', 'worker', id],
      ['erasure_requested', 'console', id],
    ]);
  });
});
