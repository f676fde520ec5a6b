import { expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { identityHash } from '../../src/domain/fingerprint.js';
import type { LeadStore } from '../../src/ports/lead-store.js';
import { testHasher } from '../helpers/privacy.js';
import { attemptResult, makeIngest } from './fixtures.js';

/**
 * The privacy cases of the LeadStore contract (ports/privacy-store.ts): run by
 * describeLeadStoreContract on every adapter. `expiresByTtl`: the store deletes expired
 * records itself (DynamoDB TTL), so purgeExpired answers null; its own suite checks the TTL.
 */
export function privacyStoreCases(getStore: () => LeadStore, options: { expiresByTtl?: boolean } = {}): void {
  const DAY = 86_400_000;
  const email = 'camille.martin@example.fr';
  const phone = '+33612345678';
  const byEmail = identityHash(testHasher, { kind: 'email', value: email });
  const byPhone = identityHash(testHasher, { kind: 'phone', value: phone });
  const other = identityHash(testHasher, { kind: 'email', value: 'someone.else@example.fr' });

  /** A lead of the person (or of someone else), indexed as the ingest use case indexes it. */
  const personLead = (destinations: string[], o: { brand?: string; at?: number; identities?: string[]; key?: string; fingerprints?: string[] } = {}) => {
    const command = makeIngest(destinations, {
      lead: { brand: o.brand ?? 'merciplus', ...(o.at !== undefined ? { received_at: new Date(o.at).toISOString() } : {}), contact: { first_name: 'Camille', last_name: 'Martin', email, phone } },
      ...(o.key !== undefined ? { key: o.key } : {}),
    });
    command.identities = o.identities ?? [byEmail, byPhone];
    if (o.fingerprints) command.fingerprints = { values: o.fingerprints, expiresAt: Date.now() + DAY };
    return command;
  };

  it('privacy: finds a person\'s leads by either identity hash, of one brand or all, oldest first', async () => {
    const store = getStore();
    const a = personLead(['crm-a'], { at: Date.now() - 3_000 });
    const b = personLead(['crm-b'], { brand: 'babychou', at: Date.now() - 2_000, identities: [byEmail] });
    const c = personLead([], { at: Date.now() - 1_000, identities: [byPhone] });
    const stranger = personLead(['crm-a'], { identities: [other] });
    for (const command of [c, stranger, a, b]) await store.ingest(command);
    expect((await store.findLeadsByIdentity([byEmail])).map((l) => l.id)).toEqual([a.lead.id, b.lead.id]);
    expect((await store.findLeadsByIdentity([byPhone])).map((l) => l.id)).toEqual([a.lead.id, c.lead.id]);
    expect((await store.findLeadsByIdentity([byEmail, byPhone])).map((l) => l.id)).toEqual([a.lead.id, b.lead.id, c.lead.id]);
    expect((await store.findLeadsByIdentity([byEmail], 'babychou')).map((l) => l.id)).toEqual([b.lead.id]);
    expect(await store.findLeadsByIdentity(['no-such-hash'])).toEqual([]);
    expect((await store.findLeadsByIdentity([byEmail]))[0]).toEqual(a.lead);
  });

  it('privacy: an erasure erases every lead of the person, completely, in batches, once', async () => {
    const store = getStore();
    const t = Date.now();
    // Delivered to crm-a; a key and fingerprints of its own.
    const delivered = personLead(['crm-a'], { at: t - 3_000, key: 'k-erase', fingerprints: ['fp-erase-a'] });
    // Failed once at crm-b (a stored response) and still pending; pending at crm-a, never tried.
    const retrying = personLead(['crm-b', 'crm-a'], { brand: 'babychou', at: t - 2_000, fingerprints: ['fp-erase-b'] });
    const untried = personLead(['crm-a'], { at: t - 1_000 });
    const stranger = personLead(['crm-a'], { identities: [other] });
    for (const command of [delivered, retrying, untried, stranger]) await store.ingest(command);
    await store.recordAttempt(attemptResult(delivered.deliveries[0]!.id, 1, 'delivered'));
    await store.recordAttempt(attemptResult(retrying.deliveries[0]!.id, 1, 'pending', t + 60_000));

    const id = uuidv7();
    await store.createErasure({ id, identities: [byEmail, byPhone], brand: null, requestedAt: t });
    await store.createErasure({ id, identities: [byEmail, byPhone], brand: null, requestedAt: t }); // idempotent
    expect(await store.getErasure(id)).toMatchObject({ id, status: 'pending', leads: 0, brand: null, identities: [byEmail, byPhone], notified: [] });
    expect((await store.pendingErasures(10)).map((e) => e.id)).toEqual([id]);

    const erasedAt = t + 5;
    const first = await store.eraseNext(id, 2, erasedAt);
    expect(first).toMatchObject({ erased: 2, done: false });
    const second = await store.eraseNext(id, 2, erasedAt);
    expect(second).toMatchObject({ erased: 1, done: true });
    const notices = [...first.notices, ...second.notices];
    // Whoever received or may have received a lead: crm-a for `delivered`, crm-b for `retrying` (attempted).
    expect(notices.map((n) => [n.leadId, n.destination, n.kind, n.status]).sort()).toEqual(
      [
        [delivered.lead.id, 'crm-a', 'lead.erased', 'pending'],
        [retrying.lead.id, 'crm-b', 'lead.erased', 'pending'],
      ].sort(),
    );

    for (const command of [delivered, retrying, untried]) {
      expect(await store.getLead(command.lead.id)).toEqual({
        id: command.lead.id,
        brand: command.lead.brand,
        received_at: command.lead.received_at,
        status: 'erased',
        erased_at: new Date(erasedAt).toISOString(),
      });
    }
    expect(await store.getLead(stranger.lead.id)).toEqual(stranger.lead);
    // Pending deliveries of the erased leads are cancelled, never sent; the delivered one keeps its history.
    expect((await store.getDelivery(delivered.deliveries[0]!.id))?.status).toBe('delivered');
    for (const d of [...retrying.deliveries, ...untried.deliveries]) expect((await store.getDelivery(d.id))?.status).toBe('cancelled');
    expect(await store.recordAttempt(attemptResult(untried.deliveries[0]!.id, 1, 'delivered'))).toBe(false);
    expect(await store.replay({ deliveryId: untried.deliveries[0]!.id })).toEqual([]);
    expect(await store.replay({ deliveryId: delivered.deliveries[0]!.id })).toEqual([]);
    const due = (await store.findDue(erasedAt + 1, 100)).map((d) => d.id);
    expect(due).toEqual(expect.arrayContaining(notices.map((n) => n.id)));
    for (const d of [...retrying.deliveries, ...untried.deliveries]) expect(due).not.toContain(d.id);
    // Stored responses, fingerprints, the idempotency key and the identity rows are gone.
    for (const attempt of await store.listAttempts(retrying.deliveries[0]!.id)) expect(attempt.responseBody).toBeNull();
    for (const attempt of await store.listAttempts(delivered.deliveries[0]!.id)) expect(attempt.responseBody).toBeNull();
    expect(await store.findDuplicate(['fp-erase-a', 'fp-erase-b'], 0)).toBeNull();
    const again = personLead(['crm-a'], { key: 'k-erase', identities: [] });
    expect(await store.ingest(again)).toEqual({ kind: 'created', leadId: again.lead.id });
    expect(await store.findLeadsByIdentity([byEmail, byPhone])).toEqual([]);
    expect((await store.findLeadsByIdentity([other])).map((l) => l.id)).toEqual([stranger.lead.id]);

    expect(await store.getErasure(id)).toMatchObject({
      status: 'pending',
      leads: 3,
      notified: [
        { destination: 'crm-a', status: 'pending', count: 1 },
        { destination: 'crm-b', status: 'pending', count: 1 },
      ],
    });
    await store.completeErasure(id, erasedAt + 10);
    expect(await store.getErasure(id)).toMatchObject({ status: 'done', leads: 3, completedAt: erasedAt + 10 });
    expect(await store.pendingErasures(10)).toEqual([]);
    expect(await store.eraseNext(id, 2, erasedAt + 20)).toEqual({ erased: 0, notices: [], done: true });
    // A notice moves on like any delivery; the erasure shows it.
    await store.recordAttempt(attemptResult(notices.find((n) => n.destination === 'crm-a')!.id, 1, 'delivered'));
    expect((await store.getErasure(id))?.notified).toEqual([
      { destination: 'crm-a', status: 'delivered', count: 1 },
      { destination: 'crm-b', status: 'pending', count: 1 },
    ]);
    expect(await store.getErasure(uuidv7())).toBeNull();
  });

  it('privacy: an erasure limited to a brand leaves the other brands\' leads', async () => {
    const store = getStore();
    const mine = personLead(['crm-a']);
    const theirs = personLead(['crm-a'], { brand: 'babychou' });
    await store.ingest(mine);
    await store.ingest(theirs);
    const id = uuidv7();
    await store.createErasure({ id, identities: [byEmail], brand: 'babychou', requestedAt: Date.now() });
    expect(await store.eraseNext(id, 10, Date.now())).toMatchObject({ erased: 1, done: true, notices: [] });
    expect((await store.getLead(theirs.lead.id))?.status).toBe('erased');
    expect(await store.getLead(mine.lead.id)).toEqual(mine.lead);
  });

  it('privacy: keeps audit records, newest first', async () => {
    const store = getStore();
    const entry = { actor: 'cli', identity: byEmail, brand: null, leads: 2, erasureId: null };
    await store.recordPrivacyAudit({ id: uuidv7(), at: 1_000, action: 'export', ...entry });
    await store.recordPrivacyAudit({ id: uuidv7(), at: 2_000, action: 'erasure_requested', ...entry, leads: null, erasureId: 'e1' });
    const listed = await store.listPrivacyAudit(10);
    expect(listed.map((e) => [e.action, e.at, e.leads, e.erasureId])).toEqual([
      ['erasure_requested', 2_000, null, 'e1'],
      ['export', 1_000, 2, null],
    ]);
    expect(await store.listPrivacyAudit(1)).toHaveLength(1);
  });

  // Stores whose items expire by TTL (DynamoDB) purge nothing themselves: their TTL attributes
  // are checked by their own suite instead (test/contract/dynamodb.test.ts).
  const purgeTest = options.expiresByTtl === true ? null : it;
  purgeTest?.('privacy: purgeExpired deletes a brand\'s old leads and all attached, in bounded batches', async () => {
    const store = getStore();
    const now = Date.now();
    const old = [0, 1, 2].map((i) => personLead(['crm-a', 'crm-b'], { at: now - 400 * DAY + i, key: `old-${i}`, fingerprints: [`fp-old-${i}`] }));
    const recent = personLead(['crm-a'], { at: now - DAY, key: 'recent', fingerprints: ['fp-recent'] });
    const otherBrand = personLead(['crm-a'], { brand: 'babychou', at: now - 400 * DAY });
    for (const command of [...old, recent, otherBrand]) await store.ingest(command);
    await store.recordAttempt(attemptResult(old[0]!.deliveries[0]!.id, 1, 'dead'));
    await store.recordAttempt(attemptResult(old[1]!.deliveries[0]!.id, 1, 'delivered'));

    const cutoff = now - 365 * DAY;
    const first = await store.purgeExpired('merciplus', cutoff, 2);
    expect(first).toEqual({ leads: 2, deliveries: 4, attempts: 2, fingerprints: 2, identities: 4, idempotency: 2 });
    const second = await store.purgeExpired('merciplus', cutoff, 2);
    expect(second).toEqual({ leads: 1, deliveries: 2, attempts: 0, fingerprints: 1, identities: 2, idempotency: 1 });
    expect(await store.purgeExpired('merciplus', cutoff, 2)).toMatchObject({ leads: 0, deliveries: 0 });
    for (const command of old) {
      expect(await store.getLead(command.lead.id)).toBeNull();
      for (const d of command.deliveries) expect(await store.getDelivery(d.id)).toBeNull();
    }
    expect(await store.findDuplicate(['fp-old-0', 'fp-old-1', 'fp-old-2'], 0)).toBeNull();
    expect(await store.getLead(recent.lead.id)).toEqual(recent.lead);
    expect(await store.getLead(otherBrand.lead.id)).toEqual(otherBrand.lead);
    expect(await store.findDuplicate(['fp-recent'], 0)).toBe(recent.lead.id);
    expect((await store.findLeadsByIdentity([byEmail])).map((l) => l.id).sort()).toEqual([recent.lead.id, otherBrand.lead.id].sort());
    // The old keys are free again; the recent one still replays.
    const reuse = personLead(['crm-a'], { key: 'old-0' });
    expect(await store.ingest(reuse)).toEqual({ kind: 'created', leadId: reuse.lead.id });
    expect((await store.ingest(personLead(['crm-a'], { key: 'recent' }))).kind).toBe('replayed');
  });
}
