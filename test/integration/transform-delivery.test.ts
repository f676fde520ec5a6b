import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpDestinationClient } from '../../src/adapters/http/destination-client.js';
import type { Lead } from '../../src/domain/lead.js';
import { loggerOptions } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDeliveryHandler } from '../../src/worker/delivery-handler.js';
import { config, destination } from '../helpers/config-factories.js';
import { startFakeCrm, type FakeCrm } from '../helpers/crm-server.js';
import { MemoryStore } from '../helpers/memory-store.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Fails on a lead without a postal code: $error, like a CRM mapping that requires a field. */
const MAPPING = `data.contact.postal_code ? {
  "ref": data.id,
  "nom": data.contact.last_name,
  "cp": data.contact.postal_code,
  "services": [data.service, "devis"]
} : $error("no postal code for " & data.contact.email)`;

let legacy: FakeCrm;
let plain: FakeCrm;
let store: MemoryStore;
let client: HttpDestinationClient;
let rawLog: string;
let handler: ReturnType<typeof createDeliveryHandler>;

beforeEach(async () => {
  legacy = await startFakeCrm();
  plain = await startFakeCrm();
  client = new HttpDestinationClient();
  store = new MemoryStore();
  rawLog = '';
  handler = createDeliveryHandler({
    config: config({
      destinations: [
        destination({ id: 'legacy', url: legacy.url, format: 'form', transform: MAPPING, signingSecrets: [SECRET] }),
        destination({ id: 'plain', url: plain.url }),
      ],
    }),
    store,
    client,
    metrics: createMetrics(),
    logger: pino(loggerOptions('debug'), { write: (line: string) => void (rawLog += line) }),
  });
});

afterEach(async () => {
  await client.close();
  await legacy.close();
  await plain.close();
});

async function ingest(id: string, contact: Lead['contact']): Promise<void> {
  const lead: Lead = { id, brand: 'merciplus', received_at: new Date().toISOString(), status: 'routed', contact, service: 'menage' };
  await store.ingest({ lead, deliveries: [{ id: `${id}-legacy`, destination: 'legacy' }, { id: `${id}-plain`, destination: 'plain' }] });
}

describe('transform and form format in the delivery handler', () => {
  it('sends the mapped form body byte for byte, signed over those bytes', async () => {
    await ingest('lead_ok', { last_name: 'Lefèvre', email: 'a.lefevre@example.fr', postal_code: '69001' });
    await handler({ deliveryId: 'lead_ok-legacy', runAt: Date.now() });
    const [req] = legacy.requests;
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req!.body).toBe('ref=lead_ok&nom=Lef%C3%A8vre&cp=69001&services=menage&services=devis');
    expect(() => new Webhook(SECRET).verify(req!.body, req!.headers as Record<string, string>, { jsonParse: false })).not.toThrow();
    expect((await store.getDelivery('lead_ok-legacy'))!.status).toBe('delivered');
  });

  it('dead-letters only the delivery whose transform fails, with a fixed error; the rest goes on', async () => {
    await ingest('lead_bad', { email: 'no.postcode@example.fr' });
    await ingest('lead_ok', { email: 'a@example.fr', postal_code: '75011' });
    await expect(handler({ deliveryId: 'lead_bad-legacy', runAt: Date.now() })).resolves.toBeUndefined();
    await handler({ deliveryId: 'lead_bad-plain', runAt: Date.now() });
    await handler({ deliveryId: 'lead_ok-legacy', runAt: Date.now() });

    expect(await store.getDelivery('lead_bad-legacy')).toMatchObject({ status: 'dead', attempts: 1, lastError: 'transform failed (D3137)' });
    expect((await store.listAttempts('lead_bad-legacy'))[0]).toMatchObject({ errorClass: 'transform', outcome: 'dead', statusCode: null });
    expect((await store.getDelivery('lead_bad-plain'))!.status).toBe('delivered');
    expect((await store.getDelivery('lead_ok-legacy'))!.status).toBe('delivered');
    expect(legacy.requests).toHaveLength(1);
    expect(plain.bodies<{ data: { id: string } }>()[0]!.data.id).toBe('lead_bad');
    expect(rawLog).toContain('"errorClass":"transform"');
    expect(rawLog).not.toContain('no.postcode');
    expect(rawLog).not.toContain('no postal code');
  });
});
