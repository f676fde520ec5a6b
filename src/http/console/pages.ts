import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Delivery } from '../../domain/delivery.js';
import type { LeadStatus } from '../../domain/lead.js';
import type { Invalid } from '../../privacy/requests.js';
import { replayDead, replayDelivery, type ReplayDeps } from '../admin-actions.js';
import { readLeadView } from '../../views/lead-views.js';
import { HttpError } from '../http-error.js';
import { html } from './html.js';
import { createOverviewReader } from './overview.js';
import { formField, type ConsoleDeps, type ConsoleKit, type ConsolePrivacy } from './kit.js';
import {
  deadLetterPage,
  destinationsPage,
  filterQuery,
  progressFragment,
  replayAllConfirm,
  replayAllResult,
} from './views/deliveries.js';
import { page } from './views/layout.js';
import { LEAD_STATUSES, leadList, leadPage, leadSearchForms } from './views/leads.js';
import { overviewContent, overviewFragment } from './views/overview.js';
import { eraseConfirm, erasureFragment, erasurePage, privacyForm } from './views/privacy.js';

const PAGE_SIZE = 50;
/** Replay all: the count shown first is exact up to this many (then "more than"). */
const COUNT_CAP = 10_000;
const ID = /^[0-9a-fA-F-]{8,64}$/;
/** datetime-local as the browser sends it; read as UTC. */
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

const NOTICES: Record<string, (subject: string) => string> = {
  replayed: () => 'Delivery replayed: it is pending again, with the same id.',
  paused: (d) => `${d} paused.`,
  resumed: (d) => `${d} resumed.`,
};

const badRequest = (message: string) => new HttpError(400, 'validation_failed', message);
const notFound = (message: string) => new HttpError(404, 'not_found', message);

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!LOCAL_TIME.test(value)) throw badRequest(`${name} must be a date and time (YYYY-MM-DDTHH:MM, UTC).`);
  const ms = Date.parse(`${value}Z`);
  if (!Number.isFinite(ms)) throw badRequest(`${name} is not a valid date and time.`);
  return ms;
}

/** Where a form may send the browser back to: a console path of ours, nothing else. */
function safeBack(value: string | undefined): string {
  return value !== undefined && /^\/console(\/[A-Za-z0-9/_-]*)?(\?[A-Za-z0-9=&%._:+-]*)?$/.test(value) ? value : '/console';
}

const withQuery = (path: string, query: string): string => `${path}${path.includes('?') ? '&' : '?'}${query}`;

export function registerPages(app: FastifyInstance, deps: ConsoleDeps, kit: ConsoleKit): void {
  const { store, config, now } = deps;
  const readOverview = createOverviewReader(deps, now());
  const destinationIds = config.destinations.map((d) => d.id);
  const brandIds = config.brands.map((b) => b.id);
  const actions = (request: FastifyRequest): ReplayDeps => ({ store, queue: deps.queue, now, log: request.log });
  const knownDestination = (id: string | undefined): string => {
    if (id === undefined || !destinationIds.includes(id)) throw notFound('No such destination in the config.');
    return id;
  };
  const noticeOf = (query: { done?: string; d?: string }) => {
    const make = query.done === undefined ? undefined : NOTICES[query.done];
    const subject = query.d !== undefined && destinationIds.includes(query.d) ? query.d : 'Destination';
    return make ? { text: make(subject) } : undefined;
  };

  app.get('/console', async (request, reply) => {
    const overview = await kit.fromStore(request, () => readOverview(now()));
    return kit.send(reply, page(kit.context(request), 'overview', 'Overview', overviewContent(overview)));
  });

  app.get('/console/overview', { config: { console: { fragment: true } } }, async (request, reply) => {
    const overview = await kit.fromStore(request, () => readOverview(now()));
    return kit.send(reply, overviewFragment(overview));
  });

  // Leads: by id (a redirect to its page), or a brand's leads by status and time.
  app.get<{ Querystring: { id?: string; brand?: string; status?: string; since?: string; until?: string; cursor?: string } }>(
    '/console/leads',
    { config: { console: { audit: true } } },
    async (request, reply) => {
      const q = request.query;
      const forms = (extra = {}) =>
        leadSearchForms({ brands: brandIds, personSearch: deps.findLeadsByPerson !== undefined, csrf: kit.context(request).csrf, ...extra });
      if (q.id !== undefined && q.id !== '') {
        const id = q.id.trim();
        const lead = ID.test(id) ? await kit.fromStore(request, () => store.getLead(id)) : null;
        if (lead) return reply.code(303).header('location', `/console/leads/${lead.id}`).send();
        const notice = { text: 'No lead has that id.', error: true };
        return kit.send(reply, page(kit.context(request, notice), 'leads', 'Leads', forms()), 404);
      }
      if (q.brand === undefined) return kit.send(reply, page(kit.context(request), 'leads', 'Leads', forms()));
      if (!brandIds.includes(q.brand)) throw notFound('No such brand in the config.');
      const status = q.status === undefined || q.status === '' ? undefined : (q.status as LeadStatus);
      if (status !== undefined && !LEAD_STATUSES.includes(status)) throw badRequest('Unknown status.');
      const since = parseTime(q.since, 'Received from');
      const until = parseTime(q.until, 'Received until');
      const result = await kit.fromStore(request, () =>
        store.listLeads({ brand: q.brand!, status, since, until, limit: PAGE_SIZE, cursor: q.cursor || undefined }),
      );
      const params = new URLSearchParams({ brand: q.brand, status: status ?? '', since: q.since ?? '', until: q.until ?? '' });
      const next = result.nextCursor ? `/console/leads?${params.toString()}&cursor=${encodeURIComponent(result.nextCursor)}` : null;
      const content = html`${forms({ brand: q.brand, status, since: q.since, until: q.until })}
<h2>Leads of ${q.brand}${status ? ` (${status})` : ''}</h2>${leadList(result.items, next, `Leads of ${q.brand}, newest first`)}`;
      return kit.send(reply, page(kit.context(request), 'leads', 'Leads', content));
    },
  );

  if (deps.findLeadsByPerson) {
    const find = deps.findLeadsByPerson;
    // A POST, so the email or phone never sits in a URL, a history or a log line.
    app.post('/console/leads/by-person', { config: { console: { audit: true } } }, async (request, reply) => {
      const identifier = (formField(request.body, 'identifier') ?? '').trim();
      if (identifier === '') throw badRequest('Type an email or a phone number.');
      const found = await kit.fromStore(request, () => find(identifier));
      if (found.kind === 'invalid') {
        const notice = { text: invalidText(found), error: true };
        return kit.send(reply, page(kit.context(request, notice), 'leads', 'Leads', leadSearchForms({ brands: brandIds, personSearch: true, csrf: kit.context(request).csrf })), 400);
      }
      const content = html`${leadSearchForms({ brands: brandIds, personSearch: true, csrf: kit.context(request).csrf })}
<h2>Leads of that person</h2>${leadList(found.leads, null, 'Leads of that person, newest first')}`;
      return kit.send(reply, page(kit.context(request), 'leads', 'Leads', content));
    });
  }

  const showLead = async (request: FastifyRequest<{ Params: { id: string } }>, revealed: boolean) => {
    if (!ID.test(request.params.id)) throw notFound('No lead has that id.');
    const view = await kit.fromStore(request, () => readLeadView(store, request.params.id));
    if (view === null) throw notFound('No lead has that id.');
    return page(kit.context(request, noticeOf(request.query as { done?: string })), 'leads', `Lead ${view.id}`, leadPage(view, kit.context(request).csrf, revealed));
  };
  app.get<{ Params: { id: string } }>('/console/leads/:id', { config: { console: { audit: true } } }, async (request, reply) =>
    kit.send(reply, await showLead(request, false)),
  );
  // Each reveal is a POST with the CSRF token and its own audit line (action .../reveal).
  app.post<{ Params: { id: string } }>('/console/leads/:id/reveal', { config: { console: { audit: true } } }, async (request, reply) =>
    kit.send(reply, await showLead(request, true)),
  );

  app.post<{ Params: { id: string } }>('/console/deliveries/:id/replay', { config: { console: { audit: true } } }, async (request, reply) => {
    if (!ID.test(request.params.id)) throw notFound('No delivery has that id.');
    const status = await kit.fromStore(request, () => replayDelivery(actions(request), request.params.id));
    if (status === null) throw notFound('No delivery has that id.');
    return reply.code(303).header('location', withQuery(safeBack(formField(request.body, 'back')), 'done=replayed')).send();
  });

  app.get<{ Querystring: { destination?: string; since?: string; until?: string; cursor?: string; done?: string } }>(
    '/console/dead-letters',
    { config: { console: { audit: true } } },
    async (request, reply) => {
      const q = request.query;
      const destination = q.destination === undefined || q.destination === '' ? undefined : knownDestination(q.destination);
      const since = parseTime(q.since, 'Died from');
      const until = parseTime(q.until, 'Died until');
      const [result, stats] = await kit.fromStore(request, () =>
        Promise.all([
          store.listDeliveries({ status: 'dead', destination, since, until, limit: PAGE_SIZE, cursor: q.cursor || undefined }),
          store.stats(),
        ]),
      );
      const filter = { destinations: destinationIds, destination, since: q.since || undefined, until: q.until || undefined };
      const query = filterQuery(filter);
      const next = result.nextCursor ? withQuery(`/console/dead-letters${query}`, `cursor=${encodeURIComponent(result.nextCursor)}`) : null;
      const dead = new Map(stats.map((s) => [s.destination, s.dead]));
      const content = deadLetterPage(filter, result.items, next, dead, kit.context(request).csrf, `/console/dead-letters${query}`);
      return kit.send(reply, page(kit.context(request, noticeOf(q)), 'dead-letters', 'Dead letters', content));
    },
  );

  /** Counts a destination's dead deliveries in the range by paging the list: exact up to COUNT_CAP. */
  async function countDead(destination: string, since?: number, until?: number): Promise<{ count: number; capped: boolean }> {
    let count = 0;
    let cursor: string | undefined;
    do {
      const result: { items: Delivery[]; nextCursor: string | null } = await store.listDeliveries({ status: 'dead', destination, since, until, limit: 500, cursor });
      count += result.items.length;
      cursor = result.nextCursor ?? undefined;
    } while (cursor !== undefined && count < COUNT_CAP);
    return { count, capped: cursor !== undefined };
  }

  app.get<{ Querystring: { destination?: string; since?: string; until?: string } }>(
    '/console/dead-letters/replay-all',
    { config: { console: { audit: true } } },
    async (request, reply) => {
      const q = request.query;
      const destination = knownDestination(q.destination);
      const since = parseTime(q.since, 'Died from');
      const until = parseTime(q.until, 'Died until');
      const { count, capped } = await kit.fromStore(request, () => countDead(destination, since, until));
      const filter = { destinations: destinationIds, destination, since: q.since || undefined, until: q.until || undefined };
      const content = replayAllConfirm(destination, count, capped, filter, kit.context(request).csrf);
      return kit.send(reply, page(kit.context(request), 'dead-letters', `Replay all dead deliveries to ${destination}`, content));
    },
  );

  app.post('/console/dead-letters/replay-all', { config: { console: { audit: true } } }, async (request, reply) => {
    const destination = knownDestination(formField(request.body, 'destination'));
    const since = parseTime(formField(request.body, 'since'), 'Died from');
    const until = parseTime(formField(request.body, 'until'), 'Died until');
    const replayed = await kit.fromStore(request, () => replayDead(actions(request), { destination, since, until }));
    const overview = await kit.fromStore(request, () => readOverview(now()));
    const progress = overview.destinations.find((d) => d.id === destination)!;
    const content = replayAllResult(destination, replayed, progress);
    return kit.send(reply, page(kit.context(request), 'dead-letters', `Replaying dead deliveries to ${destination}`, content));
  });

  app.get<{ Params: { id: string } }>('/console/destinations/:id/progress', { config: { console: { fragment: true } } }, async (request, reply) => {
    const destination = knownDestination(request.params.id);
    const overview = await kit.fromStore(request, () => readOverview(now()));
    return kit.send(reply, progressFragment(overview.destinations.find((d) => d.id === destination)!));
  });

  app.get<{ Querystring: { done?: string; d?: string } }>('/console/destinations', async (request, reply) => {
    const [overview, states] = await kit.fromStore(request, () => Promise.all([readOverview(now()), store.destinationStates()]));
    const stateBy = new Map(states.map((s) => [s.destination, s]));
    const rows = overview.destinations.map((d) => ({ overview: d, state: stateBy.get(d.id) }));
    const content = destinationsPage(rows, kit.context(request).csrf);
    return kit.send(reply, page(kit.context(request, noticeOf(request.query)), 'destinations', 'Destinations', content));
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { id: string } }>(`/console/destinations/:id/${action}`, { config: { console: { audit: true } } }, async (request, reply) => {
      const id = knownDestination(request.params.id);
      const paused = action === 'pause';
      await kit.fromStore(request, () => store.setDestinationPaused(id, paused, 'console'));
      // Ids of the config only: never lead data.
      request.log.warn({ destination: id, paused, actor: 'console' }, paused ? 'destination paused' : 'destination resumed');
      return reply.code(303).header('location', `/console/destinations?done=${paused ? 'paused' : 'resumed'}&d=${encodeURIComponent(id)}`).send();
    });
  }

  if (deps.privacy) registerPrivacyPages(app, deps, deps.privacy, kit);
}

/** "Phone must be a valid phone number." from the use cases' { path, message }. */
function invalidText(invalid: Invalid): string {
  const what = invalid.path === '/email' ? 'The email' : invalid.path === '/phone' ? 'The phone number' : invalid.path === '/brand' ? 'The brand' : 'The identifier';
  return `${what} ${invalid.message}.`;
}

/**
 * Privacy: export (a JSON download) and erasure of a person's leads by email or phone, through
 * the privacy use cases (actor `console`, their own audit record); POSTs only, so the identifier
 * never sits in a URL; each request also writes the console's `admin audit` line (no identifier).
 */
function registerPrivacyPages(app: FastifyInstance, deps: ConsoleDeps, privacy: ConsolePrivacy, kit: ConsoleKit): void {
  const brandIds = deps.config.brands.map((b) => b.id);
  const audited = { config: { console: { audit: true } } };
  const read = (request: FastifyRequest) => ({
    identifier: (formField(request.body, 'identifier') ?? '').trim(),
    brand: formField(request.body, 'brand') || undefined,
  });
  /** The form again, with an alert, for an identifier the use cases refuse. */
  const refuse = (request: FastifyRequest, reply: FastifyReply, typed: { identifier: string; brand?: string }, text: string) =>
    kit.send(reply, page(kit.context(request, { text, error: true }), 'privacy', 'Privacy', privacyForm(kit.context(request).csrf, brandIds, typed)), 400);
  const checked = (typed: { identifier: string; brand?: string }): string | null => {
    if (typed.identifier === '') return 'Type an email or a phone number.';
    const result = privacy.check(typed.identifier, typed.brand);
    return result.kind === 'invalid' ? invalidText(result) : null;
  };

  app.get('/console/privacy', async (request, reply) =>
    kit.send(reply, page(kit.context(request), 'privacy', 'Privacy', privacyForm(kit.context(request).csrf, brandIds))),
  );

  app.post('/console/privacy/export', audited, async (request, reply) => {
    const typed = read(request);
    const problem = checked(typed);
    if (problem !== null) return refuse(request, reply, typed, problem);
    const result = await kit.fromStore(request, () => privacy.exportPerson(typed.identifier, typed.brand));
    if (result.kind === 'invalid') return refuse(request, reply, typed, invalidText(result));
    const date = new Date(deps.now()).toISOString().slice(0, 10);
    return reply
      .type('application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="leadgate-export-${date}.json"`)
      .header('cache-control', 'no-store')
      .send(JSON.stringify(result.body, null, 2));
  });

  // Step one of an erasure: the identifier is valid; ask for it again.
  app.post('/console/privacy/erase', audited, async (request, reply) => {
    const typed = read(request);
    const problem = checked(typed);
    if (problem !== null) return refuse(request, reply, typed, problem);
    return kit.send(reply, page(kit.context(request), 'privacy', "Erase a person's leads", eraseConfirm(kit.context(request).csrf, typed.identifier, typed.brand)));
  });

  // Step two: typed again, the same person (compared normalised): record it; the runner erases.
  app.post('/console/privacy/erasures', audited, async (request, reply) => {
    const typed = read(request);
    const problem = checked(typed);
    if (problem !== null) return refuse(request, reply, typed, problem);
    const first = privacy.check(typed.identifier, typed.brand);
    const again = privacy.check(formField(request.body, 'confirm') ?? '', typed.brand);
    if (first.kind !== 'ok' || again.kind !== 'ok' || first.key !== again.key) {
      const notice = { text: 'What you typed again does not match: nothing was erased.', error: true };
      const content = eraseConfirm(kit.context(request).csrf, typed.identifier, typed.brand);
      return kit.send(reply, page(kit.context(request, notice), 'privacy', "Erase a person's leads", content), 400);
    }
    const result = await kit.fromStore(request, () => privacy.erasePerson(typed.identifier, typed.brand));
    if (result.kind === 'invalid') return refuse(request, reply, typed, invalidText(result));
    request.consoleAudit = { erasureId: result.id };
    return reply.code(303).header('location', `/console/privacy/erasures/${result.id}`).send();
  });

  const erasure = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const view = ID.test(request.params.id) ? await kit.fromStore(request, () => privacy.erasureStatus(request.params.id)) : null;
    if (view === null) throw notFound('No erasure has that id.');
    return view;
  };
  app.get<{ Params: { id: string } }>('/console/privacy/erasures/:id', audited, async (request, reply) =>
    kit.send(reply, page(kit.context(request), 'privacy', 'Erasure', erasurePage(await erasure(request), deps.now()))),
  );
  app.get<{ Params: { id: string } }>('/console/privacy/erasures/:id/progress', { config: { console: { fragment: true } } }, async (request, reply) =>
    kit.send(reply, erasureFragment(await erasure(request), deps.now())),
  );
}
