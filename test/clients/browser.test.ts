import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrandSite, type BrandSite } from '../helpers/brand-site.js';
import { artifactsDir, launchBrowser, screenshotAtWidths, watchPage } from '../helpers/browser.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN } from '../helpers/e2e-config.js';
import { freePort } from '../helpers/free-port.js';
import { getJson } from '../helpers/http-client.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { embedScriptPath } from '../../src/http/routes/embed.js';

/**
 * The browser embed end to end: Debian's Chromium loads a brand's page from a loopback site,
 * the page loads `/v1/embed.js` from a spawned `leadgate serve` (another origin: CORS and SRI
 * apply), a person (Playwright) fills the form, and the lead reaches a loopback CRM.
 *
 * Bot protection is on (`min_fill_seconds: 20`). A person takes longer than that; a test does
 * not, so the tests playing a person start the page's clock 5 minutes in the past (Playwright's
 * clock; time then runs normally): the form was "shown" 5 minutes before it is sent. The
 * too-fast test leaves the clock alone and is caught.
 */

const PUBLISHABLE = 'pk-browser-merciplus-0123456789abcdef';
const SECRET = 'sk-browser-merciplus-0123456789abcdef';
const PERSON_PACE_MS = 5 * 60_000;
const CONSENT_TEXT = 'J’accepte d’être recontacté par Merci+ au sujet de ma demande.';
const MARKETING_TEXT = 'J’accepte de recevoir les offres de Merci+.';
const SRI = `sha384-${createHash('sha384').update(readFileSync(embedScriptPath())).digest('base64')}`;

const cleanups = cleanupAfterEach();
let browser: Browser;
let site: BrandSite;
let otherSite: BrandSite;
let crm: FakeCrm;
let leadgate: LeadgateProcess;
const shared: Array<() => Promise<void> | void> = [];

function config(siteOrigin: string, crmUrl: string): string {
  return `brands:
  - id: merciplus
    api_keys: ["${SECRET}"]
    publishable_keys: ["${PUBLISHABLE}"]
    allowed_origins: ["${siteOrigin}"]
    default_country: FR
    per_ip: { per_minute: 1000 }
    bot_protection: { min_fill_seconds: 20 }
destinations:
  - id: crm-main
    url: "${crmUrl}"
    timeout_ms: 5000
    retry: { delays: ["100ms", "200ms"] }
routes:
  - destinations: [crm-main]
`;
}

/** The brand's form page, as docs/brand-sites.md shows it, loading the embed from `leadgateUrl`. */
function formPage(leadgateUrl: () => string, extraFormAttributes = '', extraFields = ''): () => string {
  return () => `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Merci+ — demander un devis</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2430; }
  main { max-width: 34rem; margin: 1.5rem auto; padding: 1.25rem 1.5rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  label { display: block; margin: .7rem 0 .25rem; font-weight: 600; }
  input[type=text], input[type=email], input[type=tel], textarea, select { width: 100%; box-sizing: border-box; padding: .5rem; border: 1px solid #aab3c0; border-radius: 4px; font: inherit; }
  label.check { display: flex; gap: .5rem; align-items: flex-start; font-weight: 400; }
  [aria-invalid=true] { border-color: #b3261e; outline: 2px solid #b3261e; background: #fdf1f0; }
  [data-leadgate-status] { min-height: 1.4em; color: #b3261e; }
  [data-leadgate-success] { padding: 1rem; background: #e6f4ea; border: 1px solid #2e7d4f; border-radius: 4px; }
  button { margin-top: 1rem; padding: .6rem 1.4rem; font: inherit; color: #fff; background: #1f5fbf; border: 0; border-radius: 4px; }
  button[disabled] { opacity: .6; }
  form[data-leadgate-state=success] .fields { display: none; }
</style></head>
<body><main>
<h1>Demander un devis</h1>
<form id="devis" data-leadgate-key="${PUBLISHABLE}" data-leadgate-service="menage" data-leadgate-consent-version="2026-01" ${extraFormAttributes}>
  <noscript><p>Ce formulaire a besoin de JavaScript : appelez-nous au 01 23 45 67 89.</p></noscript>
  <div class="fields">
    <label for="first_name">Prénom</label><input id="first_name" name="first_name" type="text" autocomplete="given-name">
    <label for="last_name">Nom</label><input id="last_name" name="last_name" type="text" autocomplete="family-name">
    <label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="email">
    <label for="phone">Téléphone</label><input id="phone" name="phone" type="tel" autocomplete="tel">
    <label for="postal_code">Code postal</label><input id="postal_code" name="postal_code" type="text" autocomplete="postal-code">
    <label for="message">Votre besoin</label><textarea id="message" name="message" rows="3"></textarea>
    <label for="frequency">Fréquence</label>
    <select id="frequency" name="frequency"><option>hebdomadaire</option><option>ponctuelle</option></select>
    <label class="check"><input type="checkbox" name="consent_contact" required> ${CONSENT_TEXT}</label>
    <label class="check"><input type="checkbox" name="consent_marketing"> ${MARKETING_TEXT}</label>
    ${extraFields}
    <button type="submit">Envoyer ma demande</button>
  </div>
  <p data-leadgate-status></p>
  <div data-leadgate-success><strong>Merci !</strong> Nous vous rappelons sous 24 h.</div>
</form>
</main>
<script>
  window.__events = [];
  for (const type of ['leadgate:success', 'leadgate:error']) {
    document.addEventListener(type, (e) => window.__events.push({ type, detail: e.detail }));
  }
</script>
<script src="${leadgateUrl()}/v1/embed.js" integrity="${SRI}" crossorigin="anonymous" defer></script>
</body></html>`;
}

/** A landing page without a form: the embed only records the visit (first / last touch). */
function landingPage(leadgateUrl: () => string): () => string {
  return () => `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Merci+</title></head>
<body><h1>Merci+</h1><a href="/devis">Demander un devis</a>
<script src="${leadgateUrl()}/v1/embed.js" integrity="${SRI}" crossorigin="anonymous"></script></body></html>`;
}

beforeAll(async () => {
  browser = await launchBrowser();
  shared.push(() => browser.close());
  site = await startBrandSite();
  otherSite = await startBrandSite();
  crm = await startFakeCrm();
  shared.push(() => site.close(), () => otherSite.close(), () => crm.close());

  const workspace = makeWorkspace(config(site.origin, crm.url));
  shared.push(() => workspace.cleanup());
  leadgate = await startLeadgate('serve', {
    LEADGATE_CONFIG: workspace.configPath,
    LEADGATE_DATA_DIR: workspace.dataDir,
    LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  shared.push(async () => {
    if (leadgate.child.exitCode === null) leadgate.child.kill('SIGTERM');
    await leadgate.exited;
  });
  const url = () => leadgate.url;
  site.page('/', landingPage(url));
  site.page('/devis', formPage(url));
  // What a Turnstile widget leaves in the form once solved (the widget itself needs Cloudflare).
  site.page('/devis-captcha', formPage(url, '', '<input type="hidden" name="cf-turnstile-response" value="0.turnstile-token">'));
  otherSite.page('/devis', formPage(url, 'data-leadgate-retry-for="3"'));
});

afterAll(async () => {
  for (const stop of shared.reverse()) await stop();
});

interface Opened {
  context: BrowserContext;
  page: Page;
  seen: ReturnType<typeof watchPage>;
  /** POST /v1/leads requests the page sent (preflights are OPTIONS, not counted). */
  posts: Request[];
}

/** A fresh browser profile (storage, cache) per visitor; `pace: 'person'` starts its clock 5 minutes back. */
async function visitor(pace: 'person' | 'bot' = 'person'): Promise<Opened> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR' });
  cleanups.push(() => context.close());
  if (pace === 'person') await context.clock.install({ time: Date.now() - PERSON_PACE_MS });
  const page = await context.newPage();
  const seen = watchPage(page);
  const posts: Request[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/leads')) posts.push(r);
  });
  return { context, page, seen, posts };
}

/** Opens the form page and waits for the embed to have set the form up (it adds the honeypot). */
async function openForm(page: Page, url: string, options: { referer?: string } = {}): Promise<void> {
  await page.goto(url, options);
  await page.locator('input[name="website"]').waitFor({ state: 'attached' });
}

async function fillForm(page: Page, fields: Record<string, string | boolean>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) {
    const field = page.locator(`[name="${name}"]`);
    if (typeof value === 'boolean') await field.setChecked(value);
    else if (name === 'frequency') await field.selectOption(value);
    else await field.fill(value);
  }
}

const person = (email: string) => ({
  first_name: 'Camille',
  last_name: 'Martin',
  email,
  phone: '06 12 34 56 78',
  postal_code: '75011',
  message: 'Devis pour 3 h de ménage\npar semaine',
  consent_contact: true,
});

/** Clicks submit and resolves with the 202's lead id once the page shows its success element. */
async function submitAndSucceed(page: Page): Promise<string> {
  const accepted = page.waitForResponse((r) => r.url().endsWith('/v1/leads') && r.request().method() === 'POST' && r.status() === 202);
  await page.getByRole('button', { name: 'Envoyer ma demande' }).click();
  const id = ((await (await accepted).json()) as { id: string }).id;
  await page.locator('[data-leadgate-success]').waitFor({ state: 'visible' });
  return id;
}

interface CrmLead {
  data: { id: string; contact: Record<string, string>; message?: string; consent: Record<string, unknown>; source: any; meta: Record<string, string> };
}

const leadsFor = (email: string) => crm.bodies<CrmLead>().filter((b) => b.data.contact.email === email);

async function acceptedCount(process: LeadgateProcess): Promise<number> {
  const text = await (await fetch(`${process.opsUrl}/metrics`)).text();
  return Number(/^leadgate_leads_accepted_total\{brand="merciplus"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

const adminLead = async (process: LeadgateProcess, id: string) => (await getJson(`${process.opsUrl}/v1/leads/${id}`, ADMIN_TOKEN)).body;
const events = (page: Page) => page.evaluate('window.__events') as Promise<Array<{ type: string; detail: any }>>;

describe('the browser embed on a brand page', () => {
  it('sends a filled form: normalised phone, consent text from the label, utm, first and last touch', async () => {
    const { page, seen } = await visitor();
    // An earlier visit: the home page from a newsletter link.
    await page.goto(`${site.origin}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`);
    expect(await page.evaluate('typeof window.leadgate')).toBe('object');
    // Later, back from a Google ad, to the form.
    await openForm(page, `${site.origin}/devis?utm_source=google&utm_medium=cpc&gclid=abc123`, { referer: 'https://www.google.com/' });
    expect(await page.locator('[data-leadgate-success]').isHidden()).toBe(true);

    const email = 'camille.first-touch@example.fr';
    await fillForm(page, { ...person(email), frequency: 'ponctuelle' });
    const id = await submitAndSucceed(page);

    const [received] = await crm.waitForRequests(1, { predicate: (r) => r.body.includes(email) });
    const { data } = JSON.parse(received!.body) as CrmLead;
    expect(data.id).toBe(id);
    expect(data.contact).toEqual({ first_name: 'Camille', last_name: 'Martin', email, phone: '+33612345678', postal_code: '75011' });
    expect(data.message).toBe('Devis pour 3 h de ménage\npar semaine');
    expect(data.consent).toEqual({ contact: true, marketing: false, text: CONSENT_TEXT, text_version: '2026-01' });
    expect(data.meta).toEqual({ frequency: 'ponctuelle' });
    const devisUrl = `${site.origin}/devis?utm_source=google&utm_medium=cpc&gclid=abc123`;
    expect(data.source).toMatchObject({
      url: devisUrl,
      form: 'devis',
      referrer: 'https://www.google.com/',
      utm: { source: 'google', medium: 'cpc', gclid: 'abc123' },
      first_touch: {
        url: `${site.origin}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
        utm: { source: 'newsletter', medium: 'email', campaign: 'spring' },
        at: expect.any(String),
      },
      last_touch: { url: devisUrl, referrer: 'https://www.google.com/', utm: { source: 'google', medium: 'cpc', gclid: 'abc123' } },
    });

    // Kept as a person's lead (not spam), sent with the publishable key, and announced to the page.
    expect(await adminLead(leadgate, id)).toMatchObject({ status: 'routed', proof: { key_kind: 'publishable' } });
    expect(await events(page)).toEqual([{ type: 'leadgate:success', detail: { id } }]);
    expect(seen.errors).toEqual([]);
  });

  it('a double click, or two submissions at once, sends one request and creates one lead', async () => {
    const { page, posts } = await visitor();
    const before = await acceptedCount(leadgate);
    const emails = ['camille.double-click@example.fr', 'camille.double-submit@example.fr'];
    const ids: string[] = [];
    for (const [i, email] of emails.entries()) {
      await openForm(page, `${site.origin}/devis`);
      await fillForm(page, person(email));
      const accepted = page.waitForResponse((r) => r.url().endsWith('/v1/leads') && r.request().method() === 'POST');
      if (i === 0) await page.getByRole('button', { name: 'Envoyer ma demande' }).dblclick();
      // Two submit events in one task: the second comes while the first is sending.
      else await page.evaluate('document.forms.devis.requestSubmit(); document.forms.devis.requestSubmit()');
      ids.push(((await (await accepted).json()) as { id: string }).id);
      await page.locator('[data-leadgate-success]').waitFor({ state: 'visible' });
      expect(posts, email).toHaveLength(i + 1);
    }

    expect(await acceptedCount(leadgate)).toBe(before + 2);
    for (const [i, email] of emails.entries()) {
      await crm.waitForRequests(1, { predicate: (r) => r.body.includes(email) });
      expect(new Set(leadsFor(email).map((b) => b.data.id))).toEqual(new Set([ids[i]]));
      expect((await adminLead(leadgate, ids[i]!)).deliveries).toHaveLength(1);
    }
  });

  it('a refused field is marked aria-invalid and the message is announced; screenshots of both states', async () => {
    const { page } = await visitor();
    await openForm(page, `${site.origin}/devis`);
    await fillForm(page, { ...person('camille.invalid@example.fr'), phone: '12 34' });

    const refused = page.waitForResponse((r) => r.url().endsWith('/v1/leads') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Envoyer ma demande' }).click();
    expect((await refused).status()).toBe(400);
    const status = page.locator('[data-leadgate-status]');
    await page.locator('[name="phone"][aria-invalid="true"]').waitFor();
    expect(await status.getAttribute('aria-live')).toBe('polite');
    expect(await status.textContent()).toContain('Téléphone: must be a valid phone number');
    expect(await page.locator('[name="email"]').getAttribute('aria-invalid')).toBeNull();
    expect(await page.evaluate('document.activeElement.name')).toBe('phone');
    expect(await page.getByRole('button', { name: 'Envoyer ma demande' }).isEnabled()).toBe(true);
    const [error] = await events(page);
    expect(error).toMatchObject({ type: 'leadgate:error', detail: { error: 'validation_failed', status: 400 } });

    const shots = artifactsDir('browser-embed');
    await screenshotAtWidths(page, shots, 'error', [1280, 390]);

    // Corrected, it goes through; the mark is gone.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.locator('[name="phone"]').fill('06 12 34 56 78');
    expect(await page.locator('[name="phone"]').getAttribute('aria-invalid')).toBeNull();
    await submitAndSucceed(page);
    await screenshotAtWidths(page, shots, 'success', [1280, 390]);
  });

  it('a filled honeypot gets the same 202 and success, and the lead is kept as spam, never sent', async () => {
    const { page } = await visitor();
    await openForm(page, `${site.origin}/devis`);
    const honeypot = page.locator('input[name="website"]');
    expect(await honeypot.evaluate((el: any) => [el.type, el.tabIndex, el.autocomplete])).toEqual(['text', -1, 'off']);
    // A bot fills every text field it finds.
    await fillForm(page, person('bot.honeypot@example.fr'));
    await honeypot.fill('https://spam.example', { force: true });
    const id = await submitAndSucceed(page);

    expect(await adminLead(leadgate, id)).toMatchObject({ status: 'spam', spam_reason: 'honeypot', deliveries: [] });
  });

  it('a form sent faster than min_fill_seconds after it was shown is kept as spam', async () => {
    const { page } = await visitor('bot');
    await openForm(page, `${site.origin}/devis`);
    await fillForm(page, person('bot.too-fast@example.fr'));
    const id = await submitAndSucceed(page);

    expect(await adminLead(leadgate, id)).toMatchObject({ status: 'spam', spam_reason: 'too_fast', deliveries: [] });
  });

  it('from an origin the brand does not list, the browser blocks the request and the form shows an error', async () => {
    const { page, posts } = await visitor();
    const before = await acceptedCount(leadgate);
    await openForm(page, `${otherSite.origin}/devis`);
    await fillForm(page, person('camille.elsewhere@example.fr'));
    const failed = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/v1/leads'));
    await page.getByRole('button', { name: 'Envoyer ma demande' }).click();
    await failed;

    const status = page.locator('[data-leadgate-status]');
    await page.locator('form[data-leadgate-state="error"]').waitFor();
    expect(await status.textContent()).toContain('The form could not be sent');
    expect(await events(page)).toEqual([{ type: 'leadgate:error', detail: expect.objectContaining({ error: 'network_error', status: 0 }) }]);
    expect(await page.locator('[data-leadgate-success]').isHidden()).toBe(true);
    // It retried within data-leadgate-retry-for, never got through.
    const firstTry = posts.length;
    expect(firstTry).toBeGreaterThan(1);
    expect(await acceptedCount(leadgate)).toBe(before);

    // The person clicks again with the same values: the same submission, the same Idempotency-Key.
    const failedAgain = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/v1/leads'));
    await page.getByRole('button', { name: 'Envoyer ma demande' }).click();
    await failedAgain;
    await page.waitForFunction('window.__events.length === 2');
    expect(posts.length).toBeGreaterThan(firstTry);
    expect(new Set(posts.map((p) => p.headers()['idempotency-key'])).size).toBe(1);
  });

  it('works with the keyboard alone: Tab to each field, type, Space on the checkbox, Enter', async () => {
    const { page } = await visitor();
    await openForm(page, `${site.origin}/devis`);
    const email = 'camille.keyboard@example.fr';
    const focused = () => page.evaluate('document.activeElement && document.activeElement.name') as Promise<string>;
    const steps: Array<[string, string | null]> = [
      ['first_name', 'Camille'],
      ['last_name', 'Martin'],
      ['email', email],
      ['phone', '06 12 34 56 78'],
      ['postal_code', '75011'],
      ['message', 'Au clavier'],
      ['frequency', null],
      ['consent_contact', ' '],
      ['consent_marketing', null],
    ];
    for (const [name, keys] of steps) {
      await page.keyboard.press('Tab');
      expect(await focused()).toBe(name);
      if (keys === ' ') await page.keyboard.press('Space');
      else if (keys !== null) await page.keyboard.type(keys);
    }
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Envoyer ma demande');
    const accepted = page.waitForResponse((r) => r.url().endsWith('/v1/leads') && r.status() === 202);
    await page.keyboard.press('Enter');
    await accepted;
    await page.locator('[data-leadgate-success]').waitFor({ state: 'visible' });
    // Focus moves to the confirmation, so a screen reader reads it.
    expect(await page.evaluate('document.activeElement.hasAttribute("data-leadgate-success")')).toBe(true);

    const [received] = await crm.waitForRequests(1, { predicate: (r) => r.body.includes(email) });
    expect(JSON.parse(received!.body).data).toMatchObject({ message: 'Au clavier', consent: { contact: true, marketing: false } });
  });

  it('window.leadgate.submit(form) returns a Promise of the lead id; the bot fields carry the captcha token', async () => {
    const { page, posts } = await visitor();
    await openForm(page, `${site.origin}/devis-captcha`);
    await fillForm(page, person('camille.api@example.fr'));
    const result = (await page.evaluate('window.leadgate.submit(document.forms.devis)')) as { id: string };
    expect(result.id).toEqual(expect.any(String));
    expect((await events(page))[0]).toEqual({ type: 'leadgate:success', detail: { id: result.id } });

    const sent = posts[0]!.postDataJSON();
    expect(sent.bot).toEqual({ honeypot: '', form_shown_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), captcha_token: '0.turnstile-token' });
    expect(sent.meta).toEqual({ frequency: 'hebdomadaire' });
    expect(posts[0]!.headers()['idempotency-key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('leadgate going away while a form is sent', () => {
  it('the form retries with the same Idempotency-Key until leadgate is back, and the CRM gets one lead', async () => {
    const port = await freePort();
    const workspace = makeWorkspace(config(site.origin, crm.url));
    cleanups.push(() => workspace.cleanup());
    const env = { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir, LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN, PORT: String(port) };
    const processes: LeadgateProcess[] = [];
    const start = async () => {
      const started = await startLeadgate('serve', env);
      processes.push(started);
      return started;
    };
    cleanups.push(async () => {
      for (const p of processes) {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await p.exited;
      }
    });
    const first = await start();
    const url = `http://127.0.0.1:${port}`;
    expect(first.url).toBe(url);
    site.page('/devis-restart', formPage(() => url));

    const { page, posts } = await visitor();
    await openForm(page, `${site.origin}/devis-restart`);
    const email = 'camille.restart@example.fr';
    await fillForm(page, person(email));

    // Frozen: connections are accepted by the kernel and never answered; killed while the request waits.
    first.child.kill('SIGSTOP');
    const sent = page.waitForRequest((r) => r.url().endsWith('/v1/leads'));
    const failed = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/v1/leads'));
    await page.getByRole('button', { name: 'Envoyer ma demande' }).click();
    await sent;
    first.child.kill('SIGKILL');
    await first.exited;
    await failed;
    expect(await page.getByRole('button', { name: 'Envoyer ma demande' }).isDisabled()).toBe(true);

    // Back on the same port with the same data: the form's next retry goes through.
    const second = await start();
    expect(second.url).toBe(url);
    await page.locator('[data-leadgate-success]').waitFor({ state: 'visible' });
    const [success] = (await events(page)).filter((e) => e.type === 'leadgate:success');
    const id = success!.detail.id as string;

    expect(posts.length).toBeGreaterThan(1);
    expect(new Set(posts.map((p) => p.headers()['idempotency-key'])).size).toBe(1);
    expect(await acceptedCount(second)).toBe(1);
    await crm.waitForRequests(1, { predicate: (r) => r.body.includes(email) });
    expect(new Set(leadsFor(email).map((b) => b.data.id))).toEqual(new Set([id]));
    expect((await adminLead(second, id)).deliveries).toHaveLength(1);
  });
});
