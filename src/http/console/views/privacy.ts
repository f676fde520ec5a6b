import type { ErasureView } from '../../../privacy/requests.js';
import { html, type Html } from '../html.js';
import { csrfField, formatTime } from './layout.js';

/**
 * The privacy screen: a person's export (a JSON download) and erasure, by email or phone. Every
 * form is a POST with the CSRF token, so the identifier never sits in a URL, a history or a log.
 */

function brandSelect(brands: string[], selected: string | undefined): Html {
  return html`<select id="privacy-brand" name="brand"><option value="">every brand</option>${brands.map(
    (b) => html`<option${b === selected ? html` selected` : ''}>${b}</option>`,
  )}</select>`;
}

export function privacyForm(csrf: string, brands: string[], typed: { identifier?: string; brand?: string } = {}): Html {
  return html`<section aria-labelledby="person-h"><h2 id="person-h">A person's leads</h2>
<form class="grid" method="post" action="/console/privacy/export">${csrfField(csrf)}
  <div><label for="privacy-identifier">Email or phone</label><input id="privacy-identifier" name="identifier" required autocomplete="off" value="${typed.identifier ?? ''}"></div>
  <div><label for="privacy-brand">Brand (optional)</label>${brandSelect(brands, typed.brand)}</div>
  <div class="actions"><button type="submit">Export</button>
  <button type="submit" class="danger" formaction="/console/privacy/erase">Erase</button></div>
</form>
<p class="muted"><strong>Export</strong> downloads every lead of the person with its deliveries and attempts as JSON
(GDPR art. 15). <strong>Erase</strong> asks you to confirm, then erases them everywhere and tells each destination that had
one (GDPR art. 17, 19). A phone without +country is read for the brand's country, else France. Both are recorded in
the privacy audit.</p>
</section>`;
}

export function eraseConfirm(csrf: string, identifier: string, brand: string | undefined): Html {
  return html`<p>This erases every lead of <strong class="mono">${identifier}</strong> ${brand ? html`in brand <strong>${brand}</strong>` : 'in every brand'},
and sends a <code>lead.erased</code> notice to each destination that had received one. It cannot be undone.</p>
<form method="post" action="/console/privacy/erasures" class="grid">${csrfField(csrf)}
  <input type="hidden" name="identifier" value="${identifier}">
  <input type="hidden" name="brand" value="${brand ?? ''}">
  <div><label for="privacy-confirm">Type the email or phone again to confirm</label><input id="privacy-confirm" name="confirm" required autocomplete="off"></div>
  <div class="actions"><button type="submit" class="danger">Erase every lead of this person</button>
  <a href="/console/privacy">Cancel</a></div>
</form>`;
}

/** The refreshed part of an erasure's page. */
export function erasureFragment(view: ErasureView, at: number): Html {
  const done = view.status === 'done';
  return html`<dl class="fields">
<dt>Status</dt><dd id="erasure-status"><span class="badge ${done ? 'ok' : 'warn'}">${view.status}</span></dd>
<dt>Leads erased</dt><dd id="erasure-leads">${view.leads}</dd>
<dt>Brand</dt><dd>${view.brand ?? 'every brand'}</dd>
<dt>Requested</dt><dd>${formatTime(Date.parse(view.requested_at))}</dd>
<dt>Completed</dt><dd>${formatTime(view.completed_at === null ? null : Date.parse(view.completed_at))}</dd>
</dl>
${view.notified.length === 0
  ? html`<p class="muted">${done ? 'No destination had received one of these leads: nobody to notify.' : 'No notices yet.'}</p>`
  : html`<table class="cards">
<caption>Notified destinations</caption>
<thead><tr><th scope="col">Destination</th><th scope="col">Notice status</th><th scope="col" class="num">Notices</th></tr></thead>
<tbody>${view.notified.map(
      (n) => html`<tr data-destination="${n.destination}">
<th scope="row" data-label="Destination">${n.destination}</th>
<td data-label="Notice status">${n.status}</td>
<td class="num" data-label="Notices">${n.count}</td>
</tr>`,
    )}</tbody></table>`}
<p class="muted">Updated ${formatTime(at)}.</p>`;
}

export function erasurePage(view: ErasureView, at: number): Html {
  return html`<p>Erasure <span class="mono">${view.id}</span>: the workers erase the leads in batches and send each destination a
<code>lead.erased</code> notice (status of the least advanced shown). This page refreshes itself.</p>
<div id="erasure" data-refresh="/console/privacy/erasures/${view.id}/progress" data-every="3">${erasureFragment(view, at)}</div>
<p><a href="/console/privacy">Back to privacy</a></p>`;
}
