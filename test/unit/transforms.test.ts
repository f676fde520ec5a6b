import { describe, expect, it } from 'vitest';
import type { Lead } from '../../src/domain/lead.js';
import { buildLeadCreatedPayload } from '../../src/domain/outbound.js';
import { TRANSFORM_LIMITS, compileTransforms } from '../../src/domain/transforms.js';
import { destination } from '../helpers/config-factories.js';

const lead: Lead = {
  id: 'lead_01J',
  brand: 'merciplus',
  received_at: '2025-01-15T11:59:59.000Z',
  status: 'routed',
  contact: { first_name: 'Camille', last_name: 'Martin', email: 'camille.martin@example.fr', phone: '+33612345678', postal_code: '75011' },
  service: 'menage',
  message: 'Devis pour 3 h de ménage',
  consent: { contact: true, marketing: false },
  source: { url: 'https://www.merci-plus.example/devis', utm: { source: 'google' } },
  meta: { campaign: 'spring' },
};
const payload = buildLeadCreatedPayload(lead, new Date('2025-01-15T12:00:00.000Z'));

/** A CRM that wants its own field names, flat, with a computed full name and an optional field. */
const CRM_MAPPING = `{
  "external_id": data.id,
  "FirstName": data.contact.first_name,
  "LastName": $uppercase(data.contact.last_name),
  "FullName": data.contact.first_name & " " & data.contact.last_name,
  "Email": data.contact.email,
  "Phone": data.contact.phone,
  "ZipCode": data.contact.postal_code,
  "Product": data.service,
  "Notes": data.message,
  "OptIn": data.consent.marketing,
  "LeadSource": data.brand & "/" & data.source.utm.source,
  "Missing": data.contact.city,
  "Tags": [data.service, data.meta.campaign]
}`;

const transforms = (transform: string, limits = TRANSFORM_LIMITS) =>
  compileTransforms([destination({ id: 'crm', url: 'http://crm.test', transform }), destination({ id: 'plain', url: 'http://p.test' })], limits);

describe('transforms', () => {
  it('maps the payload to a CRM field names, byte for byte once serialised', async () => {
    const result = await transforms(CRM_MAPPING).apply('crm', payload);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(JSON.stringify(result.value)).toBe(
      '{"external_id":"lead_01J","FirstName":"Camille","LastName":"MARTIN","FullName":"Camille Martin",' +
        '"Email":"camille.martin@example.fr","Phone":"+33612345678","ZipCode":"75011","Product":"menage",' +
        '"Notes":"Devis pour 3 h de ménage","OptIn":false,"LeadSource":"merciplus/google","Tags":["menage","spring"]}',
    );
  });

  it('passes the payload through for a destination without a transform', async () => {
    const t = transforms(CRM_MAPPING);
    expect(t.has('plain')).toBe(false);
    expect(t.has('crm')).toBe(true);
    expect(await t.apply('plain', payload)).toEqual({ ok: true, value: payload });
  });

  it('can run the same compiled expression concurrently', async () => {
    const t = transforms('{"id": data.id}');
    const other = { ...payload, data: { ...payload.data, id: 'lead_other' } };
    const results = await Promise.all([t.apply('crm', payload), t.apply('crm', other), t.apply('crm', payload)]);
    expect(results.map((r) => (r.ok ? r.value.id : null))).toEqual(['lead_01J', 'lead_other', 'lead_01J']);
  });

  it.each([
    ['throws (with the lead value in JSONata message)', '{"n": $number(data.contact.email)}', 'transform failed (D3030)'],
    ['$error', '$error("no " & data.contact.email)', 'transform failed (D3137)'],
    ['returns undefined', 'data.nothing', 'transform result is not an object'],
    ['returns a string', 'data.contact.email', 'transform result is not an object'],
    ['returns an array', '[data.id]', 'transform result is not an object'],
    ['returns null', 'null', 'transform result is not an object'],
    ['recurses without end', '($f := function($x){ 1 + $f($x) }; {"x": $f(0)})', 'transform failed (D1011)'],
    ['builds a huge sequence', '{"x": [1..100000000]}', 'transform failed (D2014)'],
  ])('fails with a fixed message when the expression %s', async (_, expression, error) => {
    const result = await transforms(expression).apply('crm', payload);
    expect(result).toEqual({ ok: false, error });
    expect(JSON.stringify(result)).not.toContain('camille');
  });

  it('times out an expression that loops', async () => {
    const result = await transforms('($loop := function($i){ $loop($i + 1) }; {"x": $loop(0)})', { ...TRANSFORM_LIMITS, timeoutMs: 50 }).apply('crm', payload);
    expect(result).toEqual({ ok: false, error: 'transform timed out' });
  });

  it('refuses a result above the size bound', async () => {
    const result = await transforms('{"x": $pad("", 2000, "x")}', { ...TRANSFORM_LIMITS, maxResultChars: 1_000 }).apply('crm', payload);
    expect(result).toEqual({ ok: false, error: 'transform result too large' });
  });

  it('reports an expression that does not compile (configs built in code)', async () => {
    expect(await transforms('{"a": ').apply('crm', payload)).toEqual({ ok: false, error: 'transform does not compile' });
  });
});
