import type { StoredLead, LeadStatus } from '../../../domain/lead.js';
import type { readLeadView } from '../../../views/lead-views.js';
import { html, type Html } from '../html.js';
import { maskContact } from '../mask.js';
import { csrfField, formatTime } from './layout.js';

export type LeadView = NonNullable<Awaited<ReturnType<typeof readLeadView>>>;

export const LEAD_STATUSES: LeadStatus[] = ['routed', 'unrouted', 'spam'];

export interface LeadSearch {
  brands: string[];
  brand?: string;
  status?: LeadStatus;
  /** As typed in the form (datetime-local, UTC). */
  since?: string;
  until?: string;
  /** Whether a person's leads can be searched (the privacy index exists). */
  personSearch: boolean;
  /** The session's CSRF token: the person search is a POST. */
  csrf: string;
}

function statusBadge(status: string): Html {
  const tone = status === 'spam' || status === 'dead' ? 'bad' : status === 'delivered' || status === 'routed' ? 'ok' : 'warn';
  return html`<span class="badge ${tone}">${status}</span>`;
}

export function leadSearchForms(s: LeadSearch): Html {
  return html`<section aria-labelledby="by-id"><h2 id="by-id">By id</h2>
<form class="grid" method="get" action="/console/leads">
  <div><label for="lead-id">Lead id</label><input id="lead-id" name="id" required pattern="[0-9a-fA-F-]{8,64}" class="mono"></div>
  <div><button type="submit">Find lead</button></div>
</form></section>
<section aria-labelledby="by-brand"><h2 id="by-brand">By brand, status and time</h2>
<form class="grid" method="get" action="/console/leads">
  <div><label for="brand">Brand</label><select id="brand" name="brand">${s.brands.map(
    (b) => html`<option${b === s.brand ? html` selected` : ''}>${b}</option>`,
  )}</select></div>
  <div><label for="status">Status</label><select id="status" name="status"><option value="">any</option>${LEAD_STATUSES.map(
    (st) => html`<option${st === s.status ? html` selected` : ''}>${st}</option>`,
  )}</select></div>
  <div><label for="since">Received from (UTC)</label><input id="since" name="since" type="datetime-local" value="${s.since ?? ''}"></div>
  <div><label for="until">Received until (UTC)</label><input id="until" name="until" type="datetime-local" value="${s.until ?? ''}"></div>
  <div><button type="submit">List leads</button></div>
</form></section>
<section aria-labelledby="by-person"><h2 id="by-person">By a person's email or phone</h2>
${s.personSearch
  ? html`<form class="grid" method="post" action="/console/leads/by-person">${csrfField(s.csrf)}
  <div><label for="person">Email or phone</label><input id="person" name="identifier" required autocomplete="off"></div>
  <div><button type="submit">Find their leads</button></div></form>`
  : html`<form class="grid" aria-describedby="person-note">
  <div><label for="person">Email or phone</label><input id="person" name="identifier" disabled></div>
  <div><button type="button" disabled>Find their leads</button></div></form>
  <p class="muted" id="person-note">Not available: searching by email or phone needs the privacy index (keyed hashes of
  LEADGATE_PRIVACY_KEY), which this build does not have yet.</p>`}
</section>`;
}

/** A page of leads: ids, times and statuses, contact masked. */
export function leadList(leads: StoredLead[], nextHref: string | null, caption: string): Html {
  if (leads.length === 0) return html`<p role="status">No leads match.</p>`;
  return html`<table class="cards">
<caption>${caption}</caption>
<thead><tr><th scope="col">Received</th><th scope="col">Lead</th><th scope="col">Status</th><th scope="col">Service</th><th scope="col">Contact (masked)</th></tr></thead>
<tbody>${leads.map((lead) => {
    const erased = !('service' in lead);
    const masked = erased ? {} : maskContact(lead.contact ?? {});
    return html`<tr>
<td data-label="Received">${formatTime(Date.parse(lead.received_at))}</td>
<td data-label="Lead"><a class="mono" href="/console/leads/${lead.id}">${lead.id}</a></td>
<td data-label="Status">${statusBadge(lead.status)}</td>
<td data-label="Service">${erased ? '—' : lead.service}</td>
<td data-label="Contact (masked)">${masked.email ?? masked.phone ?? '—'}</td>
</tr>`;
  })}</tbody></table>
${nextHref ? html`<p class="pager"><a href="${nextHref}">Next page</a></p>` : ''}`;
}

const yesNo = (value: boolean | undefined): string => (value === undefined ? '—' : value ? 'yes' : 'no');

function field(name: string, value: Html | Html[] | string | undefined | null): Html {
  return html`<dt>${name}</dt><dd>${value === undefined || value === null || value === '' ? '—' : value}</dd>`;
}

/** A lead with its deliveries and attempts; personal data masked unless `revealed`. */
export function leadPage(view: LeadView, csrf: string, revealed: boolean): Html {
  // An erased lead is a tombstone: nothing personal is left to mask or reveal.
  if (!('service' in view)) {
    return html`<dl class="fields">
${field('Brand', view.brand)}
${field('Status', statusBadge(view.status))}
${field('Received', formatTime(Date.parse(view.received_at)))}
${field('Erased', formatTime(Date.parse(view.erased_at)))}
</dl>`;
  }
  const contact = revealed ? (view.contact ?? {}) : maskContact(view.contact ?? {});
  const meta = Object.entries(view.meta ?? {});
  const back = `/console/leads/${view.id}`;
  return html`<dl class="fields">
${field('Brand', view.brand)}
${field('Status', statusBadge(view.status))}
${field('Received', formatTime(Date.parse(view.received_at)))}
${field('Service', view.service)}
${view.spam_reason ? field('Spam reason', view.spam_reason) : ''}
${view.captcha ? field('Captcha', view.captcha) : ''}
${view.duplicate_of ? field('Duplicate of', html`<a class="mono" href="/console/leads/${view.duplicate_of}">${view.duplicate_of}</a>`) : ''}
</dl>
<section aria-labelledby="contact-h"><h2 id="contact-h">Contact${revealed ? '' : ' (masked)'}</h2>
<dl class="fields" id="contact">
${field('First name', contact.first_name)}
${field('Last name', contact.last_name)}
${field('Email', contact.email)}
${field('Phone', contact.phone)}
${field('Postal code', contact.postal_code)}
${field('City', contact.city)}
${field('Message', revealed ? view.message : view.message ? `hidden (${[...view.message].length} characters)` : undefined)}
${meta.length > 0 ? field('Meta', revealed ? meta.map(([k, v]) => html`<code>${k}</code>: ${v}<br>`) : `${meta.length} field${meta.length === 1 ? '' : 's'} hidden`) : ''}
</dl>
${revealed
  ? html`<p class="muted">Shown at your request; this was written to the audit log.</p>`
  : html`<form method="post" action="/console/leads/${view.id}/reveal">${csrfField(csrf)}
<button type="submit" class="secondary">Show personal data</button></form>
<p class="muted">Showing personal data writes a line to the audit log.</p>`}
</section>
<section aria-labelledby="consent-h"><h2 id="consent-h">Consent proof</h2>
<dl class="fields">
${field('Consent to contact', yesNo(view.consent?.contact))}
${field('Consent to marketing', yesNo(view.consent?.marketing))}
${field('Text shown', view.consent?.text)}
${field('Text version', view.consent?.text_version)}
${field('Key kind', view.proof?.key_kind)}
${field('Client IP (truncated)', view.proof?.ip)}
${field('User agent', view.proof?.user_agent)}
${field('Source URL', view.source?.url)}
${field('Form', view.source?.form)}
</dl></section>
<section aria-labelledby="deliveries-h"><h2 id="deliveries-h">Deliveries</h2>
${view.deliveries.length === 0 ? html`<p>No deliveries (status ${view.status}).</p>` : ''}
${view.deliveries.map(
    (d) => html`<section class="card" aria-labelledby="d-${d.id}">
<h3 id="d-${d.id}">${d.destination} ${statusBadge(d.status)}</h3>
<dl class="fields">
${field('Delivery', html`<span class="mono">${d.id}</span>`)}
${field('Attempts', String(d.attempts))}
${d.next_attempt_at ? field('Next attempt', formatTime(Date.parse(d.next_attempt_at))) : ''}
${d.delivered_at ? field('Delivered', formatTime(Date.parse(d.delivered_at))) : ''}
${d.last_error ? field('Last error', d.last_error) : ''}
</dl>
<ol class="timeline" aria-label="Attempts to ${d.destination}">${d.history.map(
      (a) => html`<li><strong>#${a.number}</strong> ${formatTime(a.started_at ? Date.parse(a.started_at) : null)} ·
${statusBadge(a.outcome)} · ${a.status_code ?? 'no status'} · ${a.duration_ms} ms${a.error_class ? html` · <code>${a.error_class}</code>` : ''}${a.error ? html` · ${a.error}` : ''}
${a.response_body
  ? revealed
    ? html`<pre class="excerpt">${a.response_body.slice(0, 300)}</pre>`
    : html`<div class="muted">Response excerpt hidden with the personal data (${a.response_body.length} bytes).</div>`
  : ''}</li>`,
    )}</ol>
<form method="post" action="/console/deliveries/${d.id}/replay">${csrfField(csrf)}
<input type="hidden" name="back" value="${back}">
<button type="submit" aria-label="Replay delivery to ${d.destination}">Replay</button></form>
</section>`,
  )}
</section>`;
}
