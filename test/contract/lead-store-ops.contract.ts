import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Lead } from '../../src/domain/lead.js';
import { InvalidCursorError, type LeadStore } from '../../src/ports/lead-store.js';
import { attemptResult, makeIngest } from './fixtures.js';
import type { LeadStoreFixture } from './lead-store.contract.js';

/**
 * The LeadStore queries of the ops console (listLeads, countLeads, attemptCounts,
 * destinationStates, listDeliveries by time). Part of the LeadStore conformance suite: every
 * adapter's test file calls it beside describeLeadStoreContract.
 */
export function describeLeadStoreOpsContract(name: string, factory: () => Promise<LeadStoreFixture>): void {
  describe(`LeadStore contract (ops queries): ${name}`, () => {
    let fixture: LeadStoreFixture;
    let store: LeadStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    const HOUR = 3_600_000;
    const base = Date.now() - 10 * HOUR;
    /** Ingests a lead received `minutes` after `base`, with no deliveries. */
    async function leadAt(minutes: number, lead: Partial<Lead> = {}): Promise<Lead> {
      const command = makeIngest([], { lead: { received_at: new Date(base + minutes * 60_000).toISOString(), ...lead } });
      await store.ingest(command);
      return command.lead;
    }

    describe('listLeads', () => {
      it('one brand, newest first, by status and time range, in keyset pages without gaps or duplicates', async () => {
        const mine: Lead[] = [];
        for (let i = 0; i < 23; i++) {
          // One a minute: leads of the same millisecond may come in any (stable) order.
          const status = i % 4 === 0 ? 'spam' : i % 5 === 0 ? 'unrouted' : 'routed';
          mine.push(await leadAt(i, { status }));
        }
        await leadAt(3, { brand: 'other-brand' });

        const newestFirst = [...mine].reverse();
        const collect = async (filter: Omit<Parameters<LeadStore['listLeads']>[0], 'limit' | 'cursor'>, limit: number) => {
          const ids: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 50; pages++) {
            const page = await store.listLeads({ ...filter, limit, cursor });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            ids.push(...page.items.map((l) => l.id));
            if (page.nextCursor === null) return ids;
            cursor = page.nextCursor;
          }
          throw new Error('too many pages');
        };

        expect(await collect({ brand: 'merciplus' }, 5)).toEqual(newestFirst.map((l) => l.id));
        expect(await collect({ brand: 'merciplus', status: 'spam' }, 2)).toEqual(
          newestFirst.filter((l) => l.status === 'spam').map((l) => l.id),
        );
        const since = base + 6 * 60_000;
        const until = base + 14 * 60_000;
        expect(await collect({ brand: 'merciplus', status: 'routed', since, until }, 3)).toEqual(
          newestFirst
            .filter((l) => l.status === 'routed' && Date.parse(l.received_at) >= since && Date.parse(l.received_at) <= until)
            .map((l) => l.id),
        );
        expect(await collect({ brand: 'nobody' }, 10)).toEqual([]);

        const first = await store.listLeads({ brand: 'merciplus', limit: 1 });
        expect(first.items[0]).toEqual(newestFirst[0]);
      });

      it('rejects a cursor it did not make with InvalidCursorError', async () => {
        await leadAt(1);
        await expect(store.listLeads({ brand: 'merciplus', limit: 10, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(
          InvalidCursorError,
        );
      });
    });

    it('countLeads: per status, for one brand, received at or after since', async () => {
      await leadAt(0);
      await leadAt(60);
      await leadAt(61, { status: 'spam' });
      await leadAt(62);
      await leadAt(63, { status: 'unrouted' });
      await leadAt(62, { brand: 'other-brand' });
      expect(await store.countLeads('merciplus', base + 30 * 60_000)).toMatchObject({ routed: 2, spam: 1, unrouted: 1 });
      const all = await store.countLeads('merciplus', base - HOUR);
      expect(all.routed).toBe(3);
      const none = await store.countLeads('merciplus', base + 5 * HOUR);
      expect(none.routed ?? 0).toBe(0);
      expect(none.spam ?? 0).toBe(0);
    });

    it('attemptCounts: per destination and outcome, attempts started at or after since', async () => {
      expect(await store.attemptCounts(0)).toEqual([]);
      const now = Date.now();
      const old = makeIngest(['crm-main']);
      const recent = makeIngest(['crm-main', 'callcenter']);
      const another = makeIngest(['crm-main']);
      for (const command of [old, recent, another]) await store.ingest(command);
      const at = (result: ReturnType<typeof attemptResult>, startedAt: number) => ({
        ...result,
        attempt: { ...result.attempt, startedAt },
      });
      await store.recordAttempt(at(attemptResult(old.deliveries[0]!.id, 1, 'pending', now + 60_000), now - 40 * 60_000));
      await store.recordAttempt(at(attemptResult(old.deliveries[0]!.id, 2, 'dead'), now - 2 * 60_000));
      await store.recordAttempt(at(attemptResult(recent.deliveries[0]!.id, 1, 'pending', now + 60_000), now - 60_000));
      await store.recordAttempt(at(attemptResult(recent.deliveries[0]!.id, 2, 'delivered'), now));
      await store.recordAttempt(at(attemptResult(recent.deliveries[1]!.id, 1, 'delivered'), now));
      await store.recordAttempt(at(attemptResult(another.deliveries[0]!.id, 1, 'delivered'), now));

      const counts = [...(await store.attemptCounts(now - 15 * 60_000))].sort((a, b) => a.destination.localeCompare(b.destination));
      expect(counts).toEqual([
        { destination: 'callcenter', delivered: 1, retry: 0, dead: 0 },
        { destination: 'crm-main', delivered: 2, retry: 1, dead: 1 },
      ]);
      const all = (await store.attemptCounts(now - HOUR)).find((c) => c.destination === 'crm-main');
      expect(all).toEqual({ destination: 'crm-main', delivered: 2, retry: 2, dead: 1 });
    });

    it('destinationStates: paused or not, when and by whom', async () => {
      expect(await store.destinationStates()).toEqual([]);
      const before = Date.now();
      await store.setDestinationPaused('crm-main', true, 'console');
      await store.setDestinationPaused('callcenter', true);
      await store.setDestinationPaused('callcenter', false, 'cli');
      const states = await store.destinationStates();
      expect(states.map(({ destination, paused, changedBy }) => ({ destination, paused, changedBy }))).toEqual([
        { destination: 'callcenter', paused: false, changedBy: 'cli' },
        { destination: 'crm-main', paused: true, changedBy: 'console' },
      ]);
      for (const state of states) {
        expect(state.changedAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(state.changedAt).toBeLessThanOrEqual(Date.now() + 1_000);
      }
      expect(await store.pausedDestinations()).toEqual(['crm-main']);
    });

    it('listDeliveries by last change: since and until bound updatedAt', async () => {
      const command = makeIngest(['crm-main', 'callcenter']);
      await store.ingest(command);
      for (const d of command.deliveries) await store.recordAttempt(attemptResult(d.id, 1, 'dead'));
      const dead = await store.listDeliveries({ status: 'dead', limit: 10 });
      expect(dead.items).toHaveLength(2);
      const changed = Math.min(...dead.items.map((d) => d.updatedAt));
      const within = await store.listDeliveries({ status: 'dead', destination: 'crm-main', since: changed - HOUR, until: Date.now() + HOUR, limit: 10 });
      expect(within.items.map((d) => d.id)).toEqual([command.deliveries[0]!.id]);
      expect((await store.listDeliveries({ status: 'dead', since: Date.now() + HOUR, limit: 10 })).items).toEqual([]);
      expect((await store.listDeliveries({ status: 'dead', until: changed - HOUR, limit: 10 })).items).toEqual([]);
      expect((await store.listDeliveries({ since: changed - HOUR, limit: 10 })).items).toHaveLength(2);
    });
  });
}
