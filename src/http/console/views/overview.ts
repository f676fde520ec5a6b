import { html, type Html } from '../html.js';
import type { Overview } from '../overview.js';
import { formatAge, formatTime } from './layout.js';

const BREAKER_LABEL = { closed: 'closed', half_open: 'half-open', open: 'open', unknown: 'unknown' } as const;

function breakerBadge(state: keyof typeof BREAKER_LABEL): Html {
  const tone = state === 'open' ? 'bad' : state === 'half_open' ? 'warn' : state === 'closed' ? 'ok' : '';
  return html`<span class="badge ${tone}">${BREAKER_LABEL[state]}</span>`;
}

const percent = (share: number | null): string => (share === null ? '—' : `${Math.round(share * 100)} %`);

/** The refreshed part of the overview: both tables and the time they were read. */
export function overviewFragment(o: Overview): Html {
  return html`<p class="muted">Updated <time datetime="${new Date(o.at).toISOString()}">${formatTime(o.at)}</time>.</p>
<table class="cards" id="destinations-table">
<caption>Destinations</caption>
<thead><tr><th scope="col">Destination</th><th scope="col" class="num">Pending</th><th scope="col" class="num">Dead</th>
<th scope="col" class="num">Oldest pending</th><th scope="col" class="num">Deliveries / min (15 min)</th>
<th scope="col" class="num">Error share (15 min)</th><th scope="col">Breaker (this process)</th><th scope="col">Paused</th></tr></thead>
<tbody>${o.destinations.map(
    (d) => html`<tr data-destination="${d.id}">
<th scope="row" data-label="Destination">${d.id}</th>
<td class="num" data-label="Pending">${d.pending}</td>
<td class="num" data-label="Dead">${d.dead > 0 ? html`<a href="/console/dead-letters?destination=${encodeURIComponent(d.id)}">${d.dead}</a>` : '0'}</td>
<td class="num" data-label="Oldest pending">${formatAge(d.oldestPendingAgeSec)}</td>
<td class="num" data-label="Deliveries / min">${d.perMinute.toFixed(1)}</td>
<td class="num" data-label="Error share">${percent(d.errorShare)}</td>
<td data-label="Breaker">${breakerBadge(d.breaker)}</td>
<td data-label="Paused">${d.paused ? html`<span class="badge warn">paused</span>` : 'no'}</td>
</tr>`,
  )}</tbody>
</table>
<table class="cards" id="brands-table">
<caption>Brands, last hour</caption>
<thead><tr><th scope="col">Brand</th><th scope="col" class="num">Accepted</th><th scope="col" class="num">Spam</th>
<th scope="col" class="num">Rejected (this process)</th></tr></thead>
<tbody>${o.brands.map(
    (b) => html`<tr>
<th scope="row" data-label="Brand">${b.id}</th>
<td class="num" data-label="Accepted">${b.accepted}</td>
<td class="num" data-label="Spam">${b.spam}</td>
<td class="num" data-label="Rejected (this process)">${b.rejected}</td>
</tr>`,
  )}</tbody>
</table>
<p class="muted">Accepted and spam come from the store (every instance). Rejected submissions are never stored: that
column counts what this process's public listener refused since ${formatTime(o.rejectedSince)}. Breakers are
this process's worker's (unknown in a process without a worker).</p>`;
}

export function overviewContent(o: Overview): Html {
  return html`<div id="overview" data-refresh="/console/overview" data-every="3">${overviewFragment(o)}</div>`;
}
