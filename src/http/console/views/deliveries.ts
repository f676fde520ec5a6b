import type { Delivery } from '../../../domain/delivery.js';
import type { DestinationState } from '../../../ports/lead-store.js';
import { html, type Html } from '../html.js';
import type { DestinationOverview } from '../overview.js';
import { csrfField, formatTime } from './layout.js';

export interface DeadLetterFilter {
  destinations: string[];
  destination?: string;
  /** As typed (datetime-local, UTC). */
  since?: string;
  until?: string;
}

/** The query string of a filter, for links that keep it. */
export function filterQuery(f: { destination?: string; since?: string; until?: string }): string {
  const params = new URLSearchParams();
  if (f.destination) params.set('destination', f.destination);
  if (f.since) params.set('since', f.since);
  if (f.until) params.set('until', f.until);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function deadLetterPage(
  f: DeadLetterFilter,
  items: Delivery[],
  nextHref: string | null,
  deadByDestination: Map<string, number>,
  csrf: string,
  back: string,
): Html {
  const replayAll = (destination: string) =>
    html`<a class="button" href="/console/dead-letters/replay-all${filterQuery({ ...f, destination })}">Replay all dead deliveries to ${destination}</a>`;
  const withDead = f.destination ? [f.destination] : f.destinations.filter((d) => (deadByDestination.get(d) ?? 0) > 0);
  return html`<form class="grid" method="get" action="/console/dead-letters">
  <div><label for="destination">Destination</label><select id="destination" name="destination"><option value="">any</option>${f.destinations.map(
    (d) => html`<option${d === f.destination ? html` selected` : ''}>${d}</option>`,
  )}</select></div>
  <div><label for="since">Died from (UTC)</label><input id="since" name="since" type="datetime-local" value="${f.since ?? ''}"></div>
  <div><label for="until">Died until (UTC)</label><input id="until" name="until" type="datetime-local" value="${f.until ?? ''}"></div>
  <div><button type="submit">Filter</button></div>
</form>
${withDead.length > 0 ? html`<p class="pager">${withDead.map(replayAll)}</p>` : ''}
${items.length === 0
  ? html`<p role="status">No dead deliveries match.</p>`
  : html`<table class="cards">
<caption>Dead deliveries</caption>
<thead><tr><th scope="col">Died</th><th scope="col">Destination</th><th scope="col">Lead</th><th scope="col" class="num">Attempts</th>
<th scope="col">Last status</th><th scope="col">Last error</th><th scope="col">Action</th></tr></thead>
<tbody>${items.map(
      (d) => html`<tr>
<td data-label="Died">${formatTime(d.updatedAt)}</td>
<td data-label="Destination">${d.destination}</td>
<td data-label="Lead"><a class="mono" href="/console/leads/${d.leadId}">${d.leadId}</a></td>
<td class="num" data-label="Attempts">${d.attempts}</td>
<td data-label="Last status">${d.lastStatusCode ?? '—'}</td>
<td data-label="Last error">${d.lastError ?? '—'}</td>
<td data-label="Action"><form method="post" action="/console/deliveries/${d.id}/replay">${csrfField(csrf)}
<input type="hidden" name="back" value="${back}">
<button type="submit" aria-label="Replay delivery ${d.id}">Replay</button></form></td>
</tr>`,
    )}</tbody></table>
${nextHref ? html`<p class="pager"><a href="${nextHref}">Next page</a></p>` : ''}`}`;
}

export function replayAllConfirm(destination: string, count: number, capped: boolean, f: DeadLetterFilter, csrf: string): Html {
  const range = f.since || f.until ? html` that died between ${f.since || 'the start'} and ${f.until || 'now'} (UTC)` : '';
  if (count === 0) {
    return html`<p role="status">No dead deliveries to ${destination}${range}: nothing to replay.</p>
<p><a href="/console/dead-letters${filterQuery(f)}">Back to the dead letters</a></p>`;
  }
  return html`<p id="replay-count"><strong>${capped ? 'More than ' : ''}${count}</strong> dead deliver${count === 1 ? 'y' : 'ies'} to
<strong>${destination}</strong>${range} will be made pending again, keeping their ids (a CRM that already has one drops it).</p>
<form method="post" action="/console/dead-letters/replay-all">${csrfField(csrf)}
<input type="hidden" name="destination" value="${destination}">
<input type="hidden" name="since" value="${f.since ?? ''}">
<input type="hidden" name="until" value="${f.until ?? ''}">
<button type="submit" class="danger">Replay ${capped ? 'all' : count} deliveries to ${destination}</button>
<a href="/console/dead-letters${filterQuery(f)}">Cancel</a>
</form>`;
}

/** The live part of the replay-all result: how the destination's queue drains. */
export function progressFragment(d: DestinationOverview): Html {
  return html`<dl class="fields">
<dt>Pending now</dt><dd id="progress-pending">${d.pending}</dd>
<dt>Dead now</dt><dd id="progress-dead">${d.dead}</dd>
<dt>Deliveries / min (15 min)</dt><dd>${d.perMinute.toFixed(1)}</dd>
</dl>`;
}

export function replayAllResult(destination: string, replayed: number, progress: DestinationOverview): Html {
  return html`<p role="status"><strong>${replayed}</strong> deliver${replayed === 1 ? 'y' : 'ies'} to ${destination} pending again.</p>
<h2>Progress</h2>
<div data-refresh="/console/destinations/${destination}/progress" data-every="2">${progressFragment(progress)}</div>
<p><a href="/console/dead-letters?destination=${encodeURIComponent(destination)}">Dead letters of ${destination}</a></p>`;
}

export function destinationsPage(
  rows: Array<{ overview: DestinationOverview; state: DestinationState | undefined }>,
  csrf: string,
): Html {
  return html`<table class="cards">
<caption>Destinations</caption>
<thead><tr><th scope="col">Destination</th><th scope="col">State</th><th scope="col">Changed</th><th scope="col" class="num">Pending</th>
<th scope="col" class="num">Dead</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.map(({ overview: d, state }) => {
    const action = d.paused ? 'resume' : 'pause';
    return html`<tr data-destination="${d.id}">
<th scope="row" data-label="Destination">${d.id}</th>
<td data-label="State">${d.paused ? html`<span class="badge warn">paused</span>` : html`<span class="badge ok">active</span>`}</td>
<td data-label="Changed">${state ? html`${d.paused ? 'paused' : 'resumed'} by ${state.changedBy ?? 'unknown'}, ${formatTime(state.changedAt)}` : '—'}</td>
<td class="num" data-label="Pending">${d.pending}</td>
<td class="num" data-label="Dead">${d.dead}</td>
<td data-label="Action"><form method="post" action="/console/destinations/${d.id}/${action}">${csrfField(csrf)}
<button type="submit" class="${d.paused ? '' : 'secondary'}">${d.paused ? 'Resume' : 'Pause'} ${d.id}</button></form></td>
</tr>`;
  })}</tbody></table>
<p class="muted">Pausing holds a destination's deliveries on every worker within about a second, without spending attempts.</p>`;
}
