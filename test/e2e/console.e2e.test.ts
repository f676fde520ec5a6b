import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { launchChromium, screenshotBoth } from '../helpers/console-browser.js';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, API_KEY, e2eConfig } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postLead } from '../helpers/http-client.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';

/**
 * The ops console in a real Chromium (playwright-core) against `leadgate serve` spawned with an
 * admin token, CRMs on loopback. Controls are found by role and accessible name, as a screen
 * reader would; screenshots of each screen at 1280 and 390 px go to test-artifacts/console/.
 */

const SHOTS = join(process.cwd(), 'test-artifacts', 'console');
const cleanups = cleanupAfterEach();
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function stop(leadgate: LeadgateProcess): Promise<void> {
  if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGTERM');
  await leadgate.exited;
}

async function setUp(crm: FakeCrm, extra: string[] = []): Promise<{ leadgate: LeadgateProcess; context: BrowserContext; page: Page }> {
  const workspace = makeWorkspace(e2eConfig([{ id: 'crm-main', url: crm.url, delays: ['100ms'], extra }]));
  cleanups.push(() => workspace.cleanup());
  const leadgate = await startLeadgate('serve', {
    LEADGATE_CONFIG: workspace.configPath,
    LEADGATE_DATA_DIR: workspace.dataDir,
    LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  cleanups.push(() => stop(leadgate));
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  cleanups.push(() => context.close());
  return { leadgate, context, page: await context.newPage() };
}

async function fakeCrm(): Promise<FakeCrm> {
  const crm = await startFakeCrm();
  cleanups.push(() => crm.close());
  return crm;
}

async function signIn(page: Page, opsUrl: string): Promise<void> {
  await page.goto(`${opsUrl}/console`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

/** The text of one cell of the overview's destinations table, by its column label. */
const overviewCell = (page: Page, destination: string, label: string) =>
  page.locator(`#destinations-table tr[data-destination="${destination}"] [data-label="${label}"]`);

describe('ops console in Chromium', () => {
  it('signs in (wrong token refused), sets a strict HttpOnly cookie, finds a lead by id, masks it until revealed (audited), refuses forged POSTs, signs out', async () => {
    const crm = await fakeCrm();
    const { leadgate, context, page } = await setUp(crm);
    const accepted = await postLead(leadgate.url, API_KEY, EXAMPLE_LEAD);
    const leadId = accepted.body.id as string;
    await crm.waitForRequests(1);

    // Not on the public listener.
    expect((await fetch(`${leadgate.url}/console`)).status).toBe(404);

    await page.goto(`${leadgate.opsUrl}/console`);
    await page.getByRole('heading', { name: 'leadgate console' }).waitFor();
    await screenshotBoth(page, SHOTS, '01-sign-in');
    await page.getByLabel('Admin token').fill('this-is-not-the-admin-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That is not the admin token.' }).waitFor();
    expect((await context.cookies()).some((c) => c.name === 'leadgate_console')).toBe(false);

    // By keyboard alone: type the token and press Enter.
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const session = (await context.cookies()).find((c) => c.name === 'leadgate_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', secure: false });
    expect(session!.expires * 1000 - Date.now()).toBeGreaterThan(7.9 * 3600_000);
    await overviewCell(page, 'crm-main', 'Breaker').getByText('closed').waitFor();
    await screenshotBoth(page, SHOTS, '02-overview');

    await page.getByRole('link', { name: 'Leads' }).click();
    await page.getByLabel('Lead id').fill(leadId);
    await screenshotBoth(page, SHOTS, '03-leads');
    await page.getByRole('button', { name: 'Find lead' }).click();
    await page.getByRole('heading', { name: `Lead ${leadId}` }).waitFor();
    const contact = page.locator('#contact');
    await contact.getByText('c*****@e******.fr').waitFor();
    await contact.getByText('+33 6 ** ** ** 78').waitFor();
    const masked = await page.content();
    expect(masked).not.toContain('camille.martin@example.fr');
    expect(masked).not.toContain('Devis pour 3 h');
    await page.getByText("J'accepte d'être recontacté").waitFor(); // the consent proof is not masked
    await page.getByRole('list', { name: 'Attempts to crm-main' }).getByText('200').waitFor();
    await screenshotBoth(page, SHOTS, '04-lead-masked');

    await page.getByRole('button', { name: 'Show personal data' }).click();
    await contact.getByText('camille.martin@example.fr').waitFor();
    await contact.getByText('+33612345678').waitFor();
    const reveal = await leadgate.waitForLog((l) => l.msg === 'admin audit' && l.action === 'POST /console/leads/:id/reveal');
    expect(reveal).toMatchObject({ actor: 'console', leadId, outcome: 'ok', statusCode: 200 });
    expect(JSON.stringify(leadgate.logs)).not.toContain('camille.martin@example.fr');

    // The brand's routed leads, newest first, with the contact masked.
    await page.getByRole('link', { name: 'Leads' }).click();
    await page.getByLabel('Brand', { exact: true }).selectOption('merciplus');
    await page.getByLabel('Status', { exact: true }).selectOption('routed');
    await page.getByRole('button', { name: 'List leads' }).click();
    const list = page.getByRole('table', { name: 'Leads of merciplus, newest first' });
    await list.getByRole('link', { name: leadId }).waitFor();
    await list.getByText('c*****@e******.fr').waitFor();
    await screenshotBoth(page, SHOTS, '03b-leads-of-brand');

    // Forged POSTs with the session cookie but without, or with a wrong, CSRF token.
    const forged = await page.request.post(`${leadgate.opsUrl}/console/destinations/crm-main/pause`, { form: {}, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    const wrong = await page.request.post(`${leadgate.opsUrl}/console/destinations/crm-main/pause`, {
      form: { _csrf: 'made-up-token' },
      maxRedirects: 0,
    });
    expect(wrong.status()).toBe(403);
    const { body } = await getJson(`${leadgate.opsUrl}/v1/destinations`, ADMIN_TOKEN);
    expect((body.items as Array<{ id: string; paused: boolean }>).find((d) => d.id === 'crm-main')?.paused).toBe(false);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'Signed out.' }).waitFor();
    await page.goto(`${leadgate.opsUrl}/console/leads/${leadId}`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('a CRM down then up: the overview shows pending and the breaker open, dead letters, replay all with its count, the CRM receives them, the breaker closes', async () => {
    const crm = await fakeCrm();
    crm.respondWith({ status: 503 });
    const { leadgate, page } = await setUp(crm, ['circuit_breaker: {failures: 2, half_open_after: "3s"}']);
    await signIn(page, leadgate.opsUrl);
    await overviewCell(page, 'crm-main', 'Breaker').getByText('closed').waitFor();

    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await postLead(leadgate.url, API_KEY, EXAMPLE_LEAD)).body.id as string);
    // The page refreshes itself (no reload here): wait for one refresh showing both at once.
    await page
      .locator('#destinations-table tr[data-destination="crm-main"]')
      .filter({ has: page.locator('[data-label="Breaker"]', { hasText: /^open$/ }) })
      .filter({ hasNot: page.locator('[data-label="Pending"]', { hasText: /^0$/ }) })
      .waitFor();
    await screenshotBoth(page, SHOTS, '05-overview-crm-down');
    // The CRM now refuses them for good (400): the next probe closes the breaker (an answer, not
    // an outage) and each lead dies at once; the overview says so. (A failed probe keeps its
    // lead's place in the retry schedule, so a CRM that stays down kills nothing.)
    crm.respondWith({ status: 400 });
    await overviewCell(page, 'crm-main', 'Dead').getByText('2').waitFor();
    await overviewCell(page, 'crm-main', 'Pending').getByText('0').waitFor();

    crm.respondWith({ status: 200 });
    const seenBefore = crm.requests.length;
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    const rows = page.getByRole('table', { name: 'Dead deliveries' }).getByRole('row');
    expect(await rows.count()).toBe(3); // a header and two deliveries
    for (const id of ids) await page.getByRole('link', { name: id }).waitFor();
    await screenshotBoth(page, SHOTS, '06-dead-letters');

    await page.getByRole('link', { name: 'Replay all dead deliveries to crm-main' }).click();
    await page.locator('#replay-count').getByText('2', { exact: true }).waitFor();
    await screenshotBoth(page, SHOTS, '07-replay-all-confirm');
    await page.getByRole('button', { name: 'Replay 2 deliveries to crm-main' }).click();
    await page.getByRole('status').filter({ hasText: '2 deliveries to crm-main pending again.' }).waitFor();
    // The progress region drains as the CRM takes them (after the breaker's half-open trial).
    await page.locator('#progress-pending').getByText('0', { exact: true }).waitFor();
    await page.locator('#progress-dead').getByText('0', { exact: true }).waitFor();
    await screenshotBoth(page, SHOTS, '08-replay-all-done');
    const received = await crm.waitForRequests(seenBefore + 2);
    const receivedIds = received.slice(seenBefore).map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id);
    expect(receivedIds.sort()).toEqual([...ids].sort());

    await page.getByRole('link', { name: 'Overview' }).click();
    await overviewCell(page, 'crm-main', 'Breaker').getByText('closed').waitFor();
    const audit = leadgate.logs.filter((l) => l.msg === 'admin audit' && l.action === 'POST /console/dead-letters/replay-all');
    expect(audit).toEqual([expect.objectContaining({ actor: 'console', outcome: 'ok' })]);
  });

  it('pauses and resumes a destination from the page (by keyboard), showing who and when', async () => {
    const crm = await fakeCrm();
    const { leadgate, page } = await setUp(crm);
    await signIn(page, leadgate.opsUrl);
    await page.getByRole('link', { name: 'Destinations' }).click();
    await page.getByRole('heading', { name: 'Destinations' }).waitFor();

    // Keyboard only: Tab to the Pause button, then Enter.
    const pause = page.getByRole('button', { name: 'Pause crm-main' });
    const focused = () => pause.evaluate((el) => el.ownerDocument.activeElement === el);
    for (let i = 0; i < 30 && !(await focused()); i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'crm-main paused.' }).waitFor();
    await page.getByRole('row', { name: /crm-main/ }).getByText(/paused by console/).waitFor();
    await screenshotBoth(page, SHOTS, '09-destinations-paused');
    const { body } = await getJson(`${leadgate.opsUrl}/v1/destinations`, ADMIN_TOKEN);
    expect((body.items as Array<{ id: string; paused: boolean }>).find((d) => d.id === 'crm-main')?.paused).toBe(true);

    // A lead accepted while paused waits; resuming lets it through.
    const held = (await postLead(leadgate.url, API_KEY, EXAMPLE_LEAD)).body.id as string;
    await page.getByRole('button', { name: 'Resume crm-main' }).click();
    await page.getByRole('status').filter({ hasText: 'crm-main resumed.' }).waitFor();
    await page.getByRole('row', { name: /crm-main/ }).getByText(/resumed by console/).waitFor();
    await crm.waitForRequests(1, { predicate: (r) => r.body.includes(held) });
    const audit = leadgate.logs.filter((l) => l.msg === 'admin audit' && String(l.action).startsWith('POST /console/destinations/'));
    expect(audit.map((l) => [l.action, l.destination, l.actor])).toEqual([
      ['POST /console/destinations/:id/pause', 'crm-main', 'console'],
      ['POST /console/destinations/:id/resume', 'crm-main', 'console'],
    ]);
  });

  it('finds a person by phone written another way, exports them as a JSON download, and erases them after typing the email again, following the erasure to done', async () => {
    const crm = await fakeCrm();
    const { leadgate, page } = await setUp(crm);
    const leadId = (await postLead(leadgate.url, API_KEY, EXAMPLE_LEAD)).body.id as string;
    await crm.waitForRequests(1);
    await signIn(page, leadgate.opsUrl);

    await page.getByRole('link', { name: 'Leads' }).click();
    await page.getByRole('textbox', { name: 'Email or phone', exact: true }).fill('06 12 34 56 78');
    await page.getByRole('button', { name: 'Find their leads' }).click();
    await page.getByRole('table', { name: 'Leads of that person, newest first' }).getByRole('link', { name: leadId }).waitFor();

    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.getByRole('heading', { name: 'Privacy' }).waitFor();
    await page.getByRole('textbox', { name: 'Email or phone', exact: true }).fill('camille.martin@example.fr');
    await page.getByLabel('Brand (optional)').selectOption('merciplus');
    await screenshotBoth(page, SHOTS, '10-privacy');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^leadgate-export-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8')) as { leads: Array<{ id: string }> };
    expect(exported.leads.map((l) => l.id)).toEqual([leadId]);

    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('heading', { name: "Erase a person's leads" }).waitFor();
    await page.getByLabel('Type the email or phone again to confirm').fill('camille.martin@example.com');
    await page.getByRole('button', { name: 'Erase every lead of this person' }).click();
    await page.getByRole('alert').filter({ hasText: 'nothing was erased' }).waitFor();
    await screenshotBoth(page, SHOTS, '11-privacy-erase-confirm');
    await page.getByLabel('Type the email or phone again to confirm').fill('Camille.Martin@example.fr');
    await page.getByRole('button', { name: 'Erase every lead of this person' }).click();
    await page.getByRole('heading', { name: 'Erasure' }).waitFor();
    // The page refreshes itself (no reload here) until the erasure is done and the CRM has its notice.
    await page.locator('#erasure-status').getByText('done').waitFor();
    await page.locator('#erasure-leads').getByText('1', { exact: true }).waitFor();
    await crm.waitForRequests(1, { predicate: (r) => (JSON.parse(r.body) as { type: string }).type === 'lead.erased' });
    await page
      .getByRole('table', { name: 'Notified destinations' })
      .getByRole('row', { name: /crm-main/ })
      .getByText('delivered')
      .waitFor();
    await screenshotBoth(page, SHOTS, '12-privacy-erasure-done');

    const audit = leadgate.logs.filter((l) => l.msg === 'admin audit' && String(l.action).startsWith('POST /console/privacy/'));
    expect(audit.map((l) => [l.action, l.statusCode])).toEqual([
      ['POST /console/privacy/export', 200],
      ['POST /console/privacy/erase', 200],
      ['POST /console/privacy/erasures', 400],
      ['POST /console/privacy/erasures', 303],
    ]);
    expect(audit[3]!.erasureId).toEqual(expect.any(String));
    const logText = JSON.stringify(leadgate.logs).toLowerCase();
    for (const personal of ['camille.martin', '612345678', '06 12 34 56 78']) expect(logText).not.toContain(personal);
  });
});
