import { describe, expect, it } from 'vitest';
import { startFakeCrm, type FakeCrm, type RecordedRequest } from '../helpers/crm-server.js';
import { ADMIN_TOKEN, API_KEY } from '../helpers/e2e-config.js';
import { EXAMPLE_LEAD, getJson, postLead } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { makeWorkspace, runCli, startLeadgate, type LeadgateProcess } from '../helpers/leadgate-process.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';

/** Routing rules and duplicates end to end: `leadgate serve` as a child process, three CRMs on loopback. */

const cleanups = cleanupAfterEach();

async function crm(): Promise<FakeCrm> {
  const server = await startFakeCrm();
  cleanups.push(() => server.close());
  return server;
}

async function stop(leadgate: LeadgateProcess) {
  if (leadgate.child.exitCode === null && leadgate.child.signalCode === null) leadgate.child.kill('SIGTERM');
  await leadgate.exited;
}

const destinationYaml = (id: string, url: string) => `  - id: ${id}
    url: "${url}"
    timeout_ms: 2000
    retry:
      delays: ["50ms", "100ms"]`;

const leadIdOf = (req: RecordedRequest): string => (JSON.parse(req.body) as { data: { id: string } }).data.id;
const idsReceived = (server: FakeCrm): string[] => server.requests.map(leadIdOf);

describe('routing rules end to end', () => {
  it('fans out by postal code and consent, keeps an unmatched lead unrouted, holds back a duplicate', async () => {
    const paris = await crm();
    const marketing = await crm();
    const fallback = await crm();
    const workspace = makeWorkspace(`brands:
  - id: merciplus
    api_keys: ["${API_KEY}"]
    default_country: FR
    duplicate_window: 1h
destinations:
${destinationYaml('paris-crm', paris.url)}
${destinationYaml('marketing-crm', marketing.url)}
${destinationYaml('default-crm', fallback.url)}
routes:
  - postal_codes: ["75*", "92*"]
    destinations: [paris-crm]
  - consent: { marketing: true }
    destinations: [marketing-crm]
    forward_duplicates: false
  - postal_codes: ["13*"]
    destinations: [default-crm]
`);
    cleanups.push(() => workspace.cleanup());
    const env = { LEADGATE_CONFIG: workspace.configPath, LEADGATE_DATA_DIR: workspace.dataDir, LEADGATE_ADMIN_TOKEN: ADMIN_TOKEN };
    const leadgate = await startLeadgate('serve', env);
    cleanups.push(() => stop(leadgate));
    const show = async (id: string) => (await getJson(`${leadgate.opsUrl}/v1/leads/${id}`, ADMIN_TOKEN)).body;

    // 75011 with marketing consent: the Paris CRM and the marketing CRM.
    const parisian = { ...EXAMPLE_LEAD, consent: { contact: true, marketing: true } };
    const first = (await postLead(leadgate.url, API_KEY, parisian)).body.id as string;
    // 13001, no marketing consent: the default CRM only.
    const south = {
      ...EXAMPLE_LEAD,
      contact: { email: 'lea.dupont@example.fr', postal_code: '13001' },
      consent: { contact: true, marketing: false },
    };
    const second = (await postLead(leadgate.url, API_KEY, south)).body.id as string;
    // 33000, no marketing consent: no route.
    const nowhere = { ...EXAMPLE_LEAD, contact: { email: 'jean.petit@example.fr', postal_code: '33000' } };
    const unrouted = await postLead(leadgate.url, API_KEY, nowhere);
    expect(unrouted.status).toBe(202);
    const third = unrouted.body.id as string;

    await paris.waitForRequests(1, { predicate: (r) => leadIdOf(r) === first });
    await marketing.waitForRequests(1, { predicate: (r) => leadIdOf(r) === first });
    await fallback.waitForRequests(1, { predicate: (r) => leadIdOf(r) === second });

    const kept = await show(third);
    expect(kept).toMatchObject({ id: third, status: 'unrouted', deliveries: [] });
    expect(kept).not.toHaveProperty('duplicate_of');

    // The same person again within the window: flagged, forwarded to Paris, held back from marketing.
    const again = (await postLead(leadgate.url, API_KEY, parisian)).body.id as string;
    await paris.waitForRequests(1, { predicate: (r) => leadIdOf(r) === again });
    const duplicate = await show(again);
    expect(duplicate).toMatchObject({ status: 'routed', duplicate_of: first });
    expect(duplicate.deliveries.map((d: { destination: string }) => d.destination)).toEqual(['paris-crm']);
    expect((await show(first)).deliveries.map((d: { destination: string }) => d.destination).sort()).toEqual([
      'marketing-crm',
      'paris-crm',
    ]);

    // Once every delivery is recorded delivered, nothing more can arrive: each CRM saw exactly its leads.
    for (const id of [first, second, again]) {
      await waitFor(
        async () => ((await show(id)).deliveries as { status: string }[]).every((d) => d.status === 'delivered'),
        { what: 'deliveries recorded as delivered' },
      );
    }
    expect(idsReceived(paris).sort()).toEqual([first, again].sort());
    expect(idsReceived(marketing)).toEqual([first]);
    expect(idsReceived(fallback)).toEqual([second]);

    const metrics = await (await fetch(`${leadgate.opsUrl}/metrics`)).text();
    expect(metrics).toContain('leadgate_leads_unrouted_total{brand="merciplus"} 1');
    expect(metrics).toContain('leadgate_leads_duplicate_total{brand="merciplus"} 1');

    const shown = await runCli(['lead', 'show', again], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: again, duplicate_of: first });
  });
});
