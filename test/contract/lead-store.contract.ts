import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { InvalidCursorError, type LeadStore } from '../../src/ports/lead-store.js';
import { attemptResult, makeIngest } from './fixtures.js';
import { privacyStoreCases } from './privacy-store.contract.js';

/** What every LeadStore adapter must do. One line per adapter: describeLeadStoreContract(name, factory). */

export interface LeadStoreFixture {
  /** Migrated and empty. */
  store: LeadStore;
  cleanup(): Promise<void>;
}

export function describeLeadStoreContract(
  name: string,
  factory: () => Promise<LeadStoreFixture>,
  options: { expiresByTtl?: boolean } = {},
): void {
  describe(`LeadStore contract: ${name}`, () => {
    let fixture: LeadStoreFixture;
    let store: LeadStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('migrates idempotently and answers ping', async () => {
      await store.migrate();
      await store.migrate();
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('ingest creates the lead and its pending deliveries, readable back', async () => {
      // Before the command is made: its lead was received 1 s before that moment.
      const before = Date.now();
      const command = makeIngest(['crm-main', 'callcenter']);
      await expect(store.ingest(command)).resolves.toEqual({ kind: 'created', leadId: command.lead.id });

      expect(await store.getLead(command.lead.id)).toEqual(command.lead);
      const deliveries = await store.listDeliveriesOfLead(command.lead.id);
      expect(deliveries.map((d) => d.id).sort()).toEqual(command.deliveries.map((d) => d.id).sort());
      for (const delivery of deliveries) {
        expect(delivery).toMatchObject({
          leadId: command.lead.id,
          status: 'pending',
          attempts: 0,
          cycleAttempts: 0,
          lastStatusCode: null,
          lastError: null,
          nextAttemptAt: Date.parse(command.lead.received_at),
          deliveredAt: null,
        });
        expect(delivery.createdAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(await store.getDelivery(delivery.id)).toEqual(delivery);
        expect(await store.listAttempts(delivery.id)).toEqual([]);
      }
      expect(await store.getLead(uuidv7())).toBeNull();
      expect(await store.getDelivery(uuidv7())).toBeNull();
    });

    it('ingests an unrouted lead with no deliveries', async () => {
      const command = makeIngest([], { lead: { status: 'unrouted' } });
      await store.ingest(command);
      expect((await store.getLead(command.lead.id))?.status).toBe('unrouted');
      expect(await store.listDeliveriesOfLead(command.lead.id)).toEqual([]);
    });

    describe('idempotency', () => {
      it('same brand, key and body: replayed, nothing created', async () => {
        const first = makeIngest(['crm-main'], { key: 'k1' });
        const again = makeIngest(['crm-main'], { key: 'k1' });
        expect(await store.ingest(first)).toEqual({ kind: 'created', leadId: first.lead.id });
        expect(await store.ingest(again)).toEqual({ kind: 'replayed', leadId: first.lead.id });
        expect(await store.getLead(again.lead.id)).toBeNull();
        expect(await store.getDelivery(again.deliveries[0]!.id)).toBeNull();
      });

      it('same key, other body: key_reused, nothing created', async () => {
        await store.ingest(makeIngest(['crm-main'], { key: 'k1', bodyHash: 'hash-a' }));
        const other = makeIngest(['crm-main'], { key: 'k1', bodyHash: 'hash-b' });
        expect(await store.ingest(other)).toEqual({ kind: 'key_reused' });
        expect(await store.getLead(other.lead.id)).toBeNull();
      });

      it('keys are per brand', async () => {
        await store.ingest(makeIngest(['crm-main'], { key: 'k1' }));
        const otherBrand = makeIngest(['crm-main'], { key: 'k1', lead: { brand: 'babychou' } });
        expect(await store.ingest(otherBrand)).toEqual({ kind: 'created', leadId: otherBrand.lead.id });
      });

      it('an expired key may be used again, with any body', async () => {
        await store.ingest(makeIngest(['crm-main'], { key: 'k1', expiresAt: Date.now() - 1 }));
        const reuse = makeIngest(['crm-main'], { key: 'k1', bodyHash: 'hash-b' });
        expect(await store.ingest(reuse)).toEqual({ kind: 'created', leadId: reuse.lead.id });
        const again = makeIngest(['crm-main'], { key: 'k1', bodyHash: 'hash-b' });
        expect(await store.ingest(again)).toEqual({ kind: 'replayed', leadId: reuse.lead.id });
      });

      it('two concurrent ingests with one key create one lead', async () => {
        const a = makeIngest(['crm-main'], { key: 'k1' });
        const b = makeIngest(['crm-main'], { key: 'k1' });
        const results = await Promise.all([store.ingest(a), store.ingest(b)]);
        const created = results.filter((r) => r.kind === 'created');
        expect(created).toHaveLength(1);
        const other = results.find((r) => r.kind !== 'created')!;
        expect(['replayed', 'in_flight']).toContain(other.kind);
        const winner = created[0]!.kind === 'created' ? created[0]!.leadId : '';
        if (other.kind === 'replayed') expect(other.leadId).toBe(winner);
        const loser = winner === a.lead.id ? b : a;
        expect(await store.getLead(loser.lead.id)).toBeNull();
        expect(await store.getLead(winner)).not.toBeNull();
      });
    });

    describe('duplicates: fingerprints and findDuplicate', () => {
      const HOUR = 3_600_000;
      const T0 = Date.parse('2026-03-02T10:00:00.000Z');
      const iso = (ms: number) => new Date(ms).toISOString();
      /** A lead received at `at`, stored with these fingerprints (valid for a day). */
      const withPrints = (at: number, values: string[], options: { key?: string; bodyHash?: string } = {}) => {
        const command = makeIngest(['crm-main'], { ...options, lead: { received_at: iso(at) } });
        command.fingerprints = { values, expiresAt: at + 24 * HOUR };
        return command;
      };

      it('finds nothing in an empty store or for an unknown fingerprint', async () => {
        expect(await store.findDuplicate(['fp-email'], 0)).toBeNull();
        await store.ingest(withPrints(T0, ['fp-email']));
        expect(await store.findDuplicate(['fp-other'], 0)).toBeNull();
        expect(await store.findDuplicate([], 0)).toBeNull();
      });

      it('finds the lead by any of its fingerprints, received at or after since', async () => {
        const first = withPrints(T0, ['fp-email', 'fp-phone']);
        await store.ingest(first);
        expect(await store.findDuplicate(['fp-email'], T0 - HOUR)).toBe(first.lead.id);
        expect(await store.findDuplicate(['fp-phone'], T0 - HOUR)).toBe(first.lead.id);
        expect(await store.findDuplicate(['fp-x', 'fp-phone'], T0 - HOUR)).toBe(first.lead.id);
        expect(await store.findDuplicate(['fp-email'], T0)).toBe(first.lead.id);
        expect(await store.findDuplicate(['fp-email'], T0 + 1)).toBeNull();
      });

      it('gives the most recent lead in the window, across fingerprints', async () => {
        const old = withPrints(T0, ['fp-email', 'fp-phone']);
        const byEmail = withPrints(T0 + HOUR, ['fp-email']);
        const byPhone = withPrints(T0 + 2 * HOUR, ['fp-phone']);
        for (const command of [byPhone, old, byEmail]) await store.ingest(command);
        expect(await store.findDuplicate(['fp-email', 'fp-phone'], T0 - HOUR)).toBe(byPhone.lead.id);
        expect(await store.findDuplicate(['fp-email'], T0 - HOUR)).toBe(byEmail.lead.id);
        expect(await store.findDuplicate(['fp-email'], T0 + 3 * HOUR)).toBeNull();
      });

      it('a lead ingested without fingerprints is never found', async () => {
        await store.ingest(makeIngest(['crm-main'], { lead: { received_at: iso(T0) } }));
        expect(await store.findDuplicate(['fp-email'], 0)).toBeNull();
      });

      it('a replayed idempotent ingest stores nothing more', async () => {
        const first = withPrints(T0, ['fp-email'], { key: 'k-dup' });
        const again = withPrints(T0 + HOUR, ['fp-email'], { key: 'k-dup' });
        expect(await store.ingest(first)).toEqual({ kind: 'created', leadId: first.lead.id });
        expect(await store.ingest(again)).toEqual({ kind: 'replayed', leadId: first.lead.id });
        expect(await store.findDuplicate(['fp-email'], T0 - HOUR)).toBe(first.lead.id);
      });

      it('stores duplicate_of with the lead', async () => {
        const first = withPrints(T0, ['fp-email']);
        await store.ingest(first);
        const second = withPrints(T0 + HOUR, ['fp-email']);
        second.lead.duplicate_of = first.lead.id;
        await store.ingest(second);
        expect(await store.getLead(second.lead.id)).toEqual(second.lead);
        expect(await store.getLead(first.lead.id)).not.toHaveProperty('duplicate_of');
      });
    });

    describe('recordAttempt', () => {
      it('retry keeps it pending with the next time; delivered and dead end it', async () => {
        const command = makeIngest(['crm-main', 'callcenter']);
        await store.ingest(command);
        const [d1, d2] = command.deliveries.map((d) => d.id) as [string, string];
        const retryAt = Date.now() + 60_000;

        const retry = attemptResult(d1, 1, 'pending', retryAt);
        expect(await store.recordAttempt(retry)).toBe(true);
        expect(await store.getDelivery(d1)).toMatchObject({
          status: 'pending',
          attempts: 1,
          cycleAttempts: 1,
          lastStatusCode: 503,
          lastError: 'http 503',
          nextAttemptAt: retryAt,
          deliveredAt: null,
        });

        expect(await store.recordAttempt(attemptResult(d1, 2, 'delivered'))).toBe(true);
        const delivered = await store.getDelivery(d1);
        expect(delivered).toMatchObject({ status: 'delivered', attempts: 2, cycleAttempts: 2, lastStatusCode: 200 });
        expect(delivered?.nextAttemptAt).toBeNull();
        expect(delivered?.deliveredAt).toEqual(expect.any(Number));
        const attempts = await store.listAttempts(d1);
        expect(attempts.map((a) => [a.number, a.outcome])).toEqual([
          [1, 'retry'],
          [2, 'delivered'],
        ]);
        expect(attempts[0]).toEqual(retry.attempt);

        expect(await store.recordAttempt(attemptResult(d2, 1, 'dead'))).toBe(true);
        expect(await store.getDelivery(d2)).toMatchObject({ status: 'dead', attempts: 1, nextAttemptAt: null });
      });

      it('is a no-op when the delivery is not pending or the attempt is already recorded', async () => {
        const command = makeIngest(['crm-main', 'callcenter']);
        await store.ingest(command);
        const [d1, d2] = command.deliveries.map((d) => d.id) as [string, string];

        await store.recordAttempt(attemptResult(d1, 1, 'delivered'));
        const after = await store.getDelivery(d1);
        expect(await store.recordAttempt(attemptResult(d1, 2, 'dead'))).toBe(false);
        expect(await store.getDelivery(d1)).toEqual(after);
        expect(await store.listAttempts(d1)).toHaveLength(1);

        const retryAt = Date.now() + 60_000;
        await store.recordAttempt(attemptResult(d2, 1, 'pending', retryAt));
        expect(await store.recordAttempt(attemptResult(d2, 1, 'pending', retryAt))).toBe(false);
        expect(await store.getDelivery(d2)).toMatchObject({ attempts: 1, cycleAttempts: 1 });

        expect(await store.recordAttempt(attemptResult(uuidv7(), 1, 'delivered'))).toBe(false);
      });
    });

    describe('replay', () => {
      it('by id: pending and due now, same id, history kept, schedule reset', async () => {
        const command = makeIngest(['crm-main']);
        await store.ingest(command);
        const id = command.deliveries[0]!.id;
        await store.recordAttempt(attemptResult(id, 1, 'pending', Date.now() + 60_000));
        await store.recordAttempt(attemptResult(id, 2, 'dead'));

        const before = Date.now();
        const replayed = await store.replay({ deliveryId: id });
        expect(replayed).toHaveLength(1);
        expect(replayed[0]).toMatchObject({ id, status: 'pending', attempts: 2, cycleAttempts: 0 });
        expect(replayed[0]!.nextAttemptAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(replayed[0]!.nextAttemptAt).toBeLessThanOrEqual(Date.now() + 1_000);
        expect(await store.getDelivery(id)).toEqual(replayed[0]);
        expect(await store.listAttempts(id)).toHaveLength(2);

        // The next attempt continues the numbering.
        expect(await store.recordAttempt(attemptResult(id, 3, 'delivered'))).toBe(true);
        expect(await store.getDelivery(id)).toMatchObject({ status: 'delivered', attempts: 3, cycleAttempts: 1 });
        expect(await store.replay({ deliveryId: uuidv7() })).toEqual([]);
      });

      it('by destination: only that destination\'s dead deliveries, within since/until', async () => {
        const deadIds: string[] = [];
        for (let i = 0; i < 3; i++) {
          const command = makeIngest(['crm-main', 'callcenter']);
          await store.ingest(command);
          for (const d of command.deliveries) {
            await store.recordAttempt(attemptResult(d.id, 1, 'dead'));
            if (d.destination === 'crm-main') deadIds.push(d.id);
          }
        }
        const pending = makeIngest(['crm-main']);
        await store.ingest(pending);

        expect(await store.replay({ destination: 'crm-main', status: 'dead', until: Date.now() - 3_600_000 })).toEqual(
          [],
        );
        expect(await store.replay({ destination: 'crm-main', status: 'dead', since: Date.now() + 3_600_000 })).toEqual(
          [],
        );

        const replayed = await store.replay({
          destination: 'crm-main',
          status: 'dead',
          since: Date.now() - 3_600_000,
          until: Date.now() + 3_600_000,
        });
        expect(replayed.map((d) => d.id).sort()).toEqual([...deadIds].sort());
        for (const d of replayed) expect(d).toMatchObject({ status: 'pending', cycleAttempts: 0, attempts: 1 });
        const stillDead = await store.listDeliveries({ status: 'dead', limit: 500 });
        expect(stillDead.items.every((d) => d.destination === 'callcenter')).toBe(true);
        expect(stillDead.items).toHaveLength(3);
        expect(await store.replay({ destination: 'crm-main', status: 'dead' })).toEqual([]);
      });
    });

    describe('listDeliveries', () => {
      it('filters by status and destination and pages with cursors, no duplicates or gaps', async () => {
        const all: Array<{ id: string; destination: string; dead: boolean }> = [];
        for (let i = 0; i < 25; i++) {
          const command = makeIngest(['crm-main', 'callcenter']);
          await store.ingest(command);
          for (const d of command.deliveries) {
            const dead = i % 3 === 0;
            if (dead) await store.recordAttempt(attemptResult(d.id, 1, 'dead'));
            all.push({ id: d.id, destination: d.destination, dead });
          }
        }

        const collect = async (filter: { status?: 'pending' | 'dead'; destination?: string }, limit: number) => {
          const ids: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.listDeliveries({ ...filter, limit, ...(cursor ? { cursor } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            for (const d of page.items) {
              if (filter.status) expect(d.status).toBe(filter.status);
              if (filter.destination) expect(d.destination).toBe(filter.destination);
            }
            ids.push(...page.items.map((d) => d.id));
            cursor = page.nextCursor ?? undefined;
            pages += 1;
          } while (cursor && pages < 100);
          return { ids, pages };
        };

        // The port fixes no order, so compare sets; uniqueness rules out duplicates across pages.
        const sorted = (ids: string[]) => {
          expect(new Set(ids).size).toBe(ids.length);
          return [...ids].sort();
        };
        const everything = await collect({}, 7);
        expect(sorted(everything.ids)).toEqual(all.map((d) => d.id).sort());
        expect(everything.pages).toBe(Math.ceil(50 / 7));

        const dead = await collect({ status: 'dead' }, 4);
        expect(sorted(dead.ids)).toEqual(all.filter((d) => d.dead).map((d) => d.id).sort());

        const crmPending = await collect({ status: 'pending', destination: 'crm-main' }, 5);
        expect(sorted(crmPending.ids)).toEqual(
          all.filter((d) => !d.dead && d.destination === 'crm-main').map((d) => d.id).sort(),
        );

        const callcenter = await collect({ destination: 'callcenter' }, 500);
        expect(callcenter.pages).toBe(1);
        expect(sorted(callcenter.ids)).toHaveLength(25);
      });

      it('rejects a cursor it did not make with InvalidCursorError', async () => {
        await expect(store.listDeliveries({ limit: 10, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
      });

      it('clamps the limit to 1..500 and ends with a null cursor', async () => {
        for (let i = 0; i < 3; i++) await store.ingest(makeIngest(['crm-main']));
        expect((await store.listDeliveries({ limit: 0 })).items).toHaveLength(1);
        const all = await store.listDeliveries({ limit: 10_000 });
        expect(all.items).toHaveLength(3);
        expect(all.nextCursor).toBeNull();
        expect(await store.listDeliveries({ status: 'dead', limit: 10 })).toEqual({ items: [], nextCursor: null });
      });
    });

    it('findDue: pending deliveries due at or before now, oldest first', async () => {
      const older = makeIngest(['crm-main'], { lead: { received_at: new Date(Date.now() - 5_000).toISOString() } });
      const newer = makeIngest(['crm-main'], { lead: { received_at: new Date(Date.now() - 2_000).toISOString() } });
      const later = makeIngest(['crm-main']);
      const done = makeIngest(['crm-main']);
      for (const c of [newer, older, later, done]) await store.ingest(c);
      await store.recordAttempt(attemptResult(later.deliveries[0]!.id, 1, 'pending', Date.now() + 3_600_000));
      await store.recordAttempt(attemptResult(done.deliveries[0]!.id, 1, 'delivered'));

      const due = await store.findDue(Date.now(), 10);
      expect(due.map((d) => d.id)).toEqual([older.deliveries[0]!.id, newer.deliveries[0]!.id]);
      expect((await store.findDue(Date.now(), 1)).map((d) => d.id)).toEqual([older.deliveries[0]!.id]);
      expect(await store.findDue(Date.now() - 60_000, 10)).toEqual([]);
    });

    it('stats: pending, dead and oldest pending creation per destination', async () => {
      expect(await store.stats()).toEqual([]);
      const first = makeIngest(['crm-main', 'callcenter']);
      await store.ingest(first);
      const second = makeIngest(['crm-main', 'callcenter']);
      await store.ingest(second);
      await store.recordAttempt(attemptResult(second.deliveries[1]!.id, 1, 'dead'));
      await store.recordAttempt(attemptResult(first.deliveries[1]!.id, 1, 'delivered'));

      const stats = [...(await store.stats())].sort((a, b) => a.destination.localeCompare(b.destination));
      const crmOldest = Math.min(
        (await store.getDelivery(first.deliveries[0]!.id))!.createdAt,
        (await store.getDelivery(second.deliveries[0]!.id))!.createdAt,
      );
      expect(stats).toEqual([
        { destination: 'callcenter', pending: 0, dead: 1, oldestPendingCreatedAt: null },
        { destination: 'crm-main', pending: 2, dead: 0, oldestPendingCreatedAt: crmOldest },
      ]);
    });

    describe('privacy', () => {
      privacyStoreCases(() => store, options);
    });

    describe('paused destinations', () => {
      it('none is paused at first; pause and resume are idempotent and sorted', async () => {
        expect(await store.pausedDestinations()).toEqual([]);
        await store.setDestinationPaused('crm-main', true);
        await store.setDestinationPaused('callcenter', true);
        await store.setDestinationPaused('crm-main', true);
        expect(await store.pausedDestinations()).toEqual(['callcenter', 'crm-main']);
        await store.setDestinationPaused('crm-main', false);
        await store.setDestinationPaused('crm-main', false);
        await store.setDestinationPaused('never-paused', false);
        expect(await store.pausedDestinations()).toEqual(['callcenter']);
      });

      it('pausing leaves deliveries and stats as they are, and survives new deliveries', async () => {
        await store.setDestinationPaused('crm-main', true);
        const command = makeIngest(['crm-main']);
        await store.ingest(command);
        expect(await store.pausedDestinations()).toEqual(['crm-main']);
        expect((await store.getDelivery(command.deliveries[0]!.id))?.status).toBe('pending');
        expect((await store.stats()).map((s) => [s.destination, s.pending])).toEqual([['crm-main', 1]]);
        // A destination paused with nothing pending or dead adds no stats row.
        await store.setDestinationPaused('callcenter', true);
        expect((await store.stats()).map((s) => s.destination)).toEqual(['crm-main']);
      });
    });
  });
}
