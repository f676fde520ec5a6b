import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, API_KEY, SIGNING_SECRET } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postLead } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { startFakeOAuth2Server, type FakeOAuth2Server } from '../helpers/oauth2-server.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** End to end: `leadgate serve` forwarding to a JSON CRM behind OAuth2 and to a legacy form endpoint. */

const CLIENT_ID = 'leadgate-e2e';
const CLIENT_SECRET = 'e2e-client-secret-4f9a1c77';
const LEGACY_PASSWORD = 'e2e-legacy-password-93b1';
const LEGACY_BASIC = `Basic ${Buffer.from(`legacy-user:${LEGACY_PASSWORD}`).toString('base64')}`;

const cleanups = cleanupAfterEach();

async function crm(responder?: Parameters<typeof startFakeCrm>[0]): Promise<FakeCrm> {
  const server = await startFakeCrm(responder);
  cleanups.push(() => server.close());
  return server;
}

async function start(configYaml: string): Promise<LeadgateProcess> {
  const workspace = makeWorkspace(configYaml);
  cleanups.push(() => workspace.cleanup());
  const leadgate = await startLeadgate('serve', {
    LEADGATE_CONFIG: workspace.configPath,
    LEADGATE_DATA_DIR: workspace.dataDir,
    LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    CRM_CLIENT_ID: CLIENT_ID,
    CRM_CLIENT_SECRET: CLIENT_SECRET,
    LEGACY_PASSWORD,
  });
  cleanups.push(async () => {
    if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGTERM');
    await leadgate.exited;
  });
  return leadgate;
}

const BRAND = `brands:
  - id: merciplus
    api_keys: ["${API_KEY}"]
    default_country: FR
`;

/** The config a JSON API behind OAuth2 and a legacy form endpoint would get (README "CRM examples"). */
function crmKindsConfig(jsonCrm: string, tokenUrl: string, formCrm: string): string {
  return `${BRAND}destinations:
  - id: crm-json
    url: "${jsonCrm}"
    timeout_ms: 2000
    signing_secret: "${SIGNING_SECRET}"
    retry: { delays: ["50ms", "100ms"] }
    auth:
      type: oauth2
      token_url: "${tokenUrl}"
      client_id: "\${CRM_CLIENT_ID}"
      client_secret: "\${CRM_CLIENT_SECRET}"
      scope: "leads:write"
    transform: |
      {
        "externalId": data.id,
        "firstName": data.contact.first_name,
        "lastName": data.contact.last_name,
        "email": data.contact.email,
        "phone": data.contact.phone,
        "zip": data.contact.postal_code,
        "product": data.service,
        "optIn": data.consent.marketing,
        "utm": data.source.utm
      }
  - id: legacy-form
    url: "${formCrm}"
    timeout_ms: 2000
    signing_secret: "${SIGNING_SECRET}"
    retry: { delays: ["50ms", "100ms"] }
    format: form
    auth: { type: basic, username: legacy-user, password: "\${LEGACY_PASSWORD}" }
    transform: |
      {
        "lead_ref": data.id,
        "prenom": data.contact.first_name,
        "nom": $uppercase(data.contact.last_name),
        "tel": data.contact.phone,
        "cp": data.contact.postal_code,
        "prestation": data.service,
        "message": data.message,
        "utm": data.source.utm,
        "tags": [data.service, data.meta.campaign]
      }
routes:
  - destinations: [crm-json, legacy-form]
`;
}

describe('CRM kinds end to end', () => {
  it('a JSON CRM behind OAuth2 and a legacy form endpoint get their own bodies, signed, byte for byte', async () => {
    const idp: FakeOAuth2Server = await startFakeOAuth2Server({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    cleanups.push(() => idp.close());
    const jsonCrm = await crm({ responder: (req) => ({ status: idp.isValid(req.headers.authorization) ? 201 : 401 }) });
    const formCrm = await crm({ responder: (req) => ({ status: req.headers.authorization === LEGACY_BASIC ? 200 : 401 }) });
    const leadgate = await start(crmKindsConfig(jsonCrm.url, idp.url, formCrm.url));

    const first = await postLead(leadgate.url, API_KEY);
    const second = await postLead(leadgate.url, API_KEY, { ...EXAMPLE_LEAD, service: 'jardinage' });
    expect([first.status, second.status]).toEqual([202, 202]);
    const ids = [first.body.id as string, second.body.id as string];
    await jsonCrm.waitForRequests(2);
    await formCrm.waitForRequests(2);

    // One token for both deliveries.
    expect(idp.requests).toHaveLength(1);
    expect(idp.requests[0]!.rawBody).toBe('grant_type=client_credentials&scope=leads%3Awrite');
    expect(jsonCrm.requests.every((r) => r.headers.authorization === `Bearer ${idp.issued[0]}`)).toBe(true);

    const webhook = new Webhook(SIGNING_SECRET);
    ids.forEach((id, i) => {
      const service = i === 0 ? 'menage' : 'jardinage';
      const json = jsonCrm.requests.find((r) => r.body.includes(id))!;
      expect(json.headers['content-type']).toBe('application/json');
      expect(json.body).toBe(
        `{"externalId":"${id}","firstName":"Camille","lastName":"Martin","email":"camille.martin@example.fr",` +
          `"phone":"+33612345678","zip":"75011","product":"${service}","optIn":false,"utm":{"source":"google","medium":"cpc"}}`,
      );
      expect(() => webhook.verify(json.body, json.headers as Record<string, string>)).not.toThrow();

      const form = formCrm.requests.find((r) => r.body.includes(id))!;
      expect(form.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(form.body).toBe(
        `lead_ref=${id}&prenom=Camille&nom=MARTIN&tel=%2B33612345678&cp=75011&prestation=${service}` +
          '&message=Devis+pour+3+h+de+m%C3%A9nage+par+semaine&utm%5Bsource%5D=google&utm%5Bmedium%5D=cpc' +
          `&tags=${service}&tags=spring`,
      );
      expect(() => webhook.verify(form.body, form.headers as Record<string, string>, { jsonParse: false })).not.toThrow();
    });

    for (const id of ids) {
      await waitFor(async () => {
        const { body } = await getJson(`${leadgate.opsUrl}/v1/leads/${id}`, ADMIN_TOKEN);
        return body.deliveries.every((d: { status: string }) => d.status === 'delivered');
      }, { what: 'delivered' });
    }
    const logText = JSON.stringify(leadgate.logs);
    for (const secret of [CLIENT_SECRET, LEGACY_PASSWORD, LEGACY_BASIC.slice(6), ...idp.issued, 'camille', '612345678']) {
      expect(logText.toLowerCase()).not.toContain(secret.toLowerCase());
    }
  });

  it('a transform failing on one lead dead-letters that delivery only', async () => {
    const main = await crm();
    const picky = await crm();
    const leadgate = await start(`${BRAND}destinations:
  - id: crm-main
    url: "${main.url}"
    retry: { delays: ["50ms"] }
  - id: picky-crm
    url: "${picky.url}"
    retry: { delays: ["50ms"] }
    transform: 'data.contact.postal_code ? {"cp": data.contact.postal_code} : $error("no postal code: " & data.contact.email)'
routes:
  - destinations: [crm-main, picky-crm]
`);
    const { contact } = EXAMPLE_LEAD;
    const withoutPostalCode = { ...EXAMPLE_LEAD, contact: { first_name: contact.first_name, email: contact.email, phone: contact.phone } };
    const bad = await postLead(leadgate.url, API_KEY, withoutPostalCode);
    const good = await postLead(leadgate.url, API_KEY);
    await main.waitForRequests(2);
    await picky.waitForRequests(1);

    let view: any;
    await waitFor(async () => {
      view = (await getJson(`${leadgate.opsUrl}/v1/leads/${bad.body.id as string}`, ADMIN_TOKEN)).body;
      return view.deliveries.every((d: { status: string }) => d.status !== 'pending');
    }, { what: 'settled' });
    const byDestination = Object.fromEntries(view.deliveries.map((d: { destination: string }) => [d.destination, d]));
    expect(byDestination['crm-main']).toMatchObject({ status: 'delivered' });
    expect(byDestination['picky-crm']).toMatchObject({ status: 'dead', attempts: 1, last_error: 'transform failed (D3137)' });
    expect(byDestination['picky-crm'].history).toEqual([
      expect.objectContaining({ error_class: 'transform', outcome: 'dead', status_code: null }),
    ]);
    const dead = await getJson(`${leadgate.opsUrl}/v1/deliveries?status=dead&destination=picky-crm`, ADMIN_TOKEN);
    expect(dead.body.items.map((d: { lead_id: string }) => d.lead_id)).toEqual([bad.body.id]);
    expect(picky.requests.map((r) => r.body)).toEqual(['{"cp":"75011"}']);
    expect(good.status).toBe(202);
    // The worker kept going, and nothing of the lead reached the logs.
    expect((await getJson(`${leadgate.url}/health/ready`)).status).toBe(200);
    expect(JSON.stringify(leadgate.logs).toLowerCase()).not.toContain('camille');
  });
});
