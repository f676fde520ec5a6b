import { SCRIPT, STYLESHEET } from '../assets.js';
import { html, type Html } from '../html.js';

export type Section = 'overview' | 'leads' | 'dead-letters' | 'destinations' | 'privacy';

export interface PageContext {
  /** The CSRF token for this session's forms. */
  csrf: string;
  /** Whether the privacy screen exists in this build (the privacy API is wired in). */
  privacy: boolean;
  /** A short message after an action (role=status), or an error (role=alert). */
  notice?: { text: string; error?: boolean };
}

const NAV: Array<{ section: Section; href: string; label: string }> = [
  { section: 'overview', href: '/console', label: 'Overview' },
  { section: 'leads', href: '/console/leads', label: 'Leads' },
  { section: 'dead-letters', href: '/console/dead-letters', label: 'Dead letters' },
  { section: 'destinations', href: '/console/destinations', label: 'Destinations' },
  { section: 'privacy', href: '/console/privacy', label: 'Privacy' },
];

function document(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · leadgate console</title>
<link rel="stylesheet" href="${STYLESHEET.path}">
<script src="${SCRIPT.path}" defer></script>
</head>
<body>
${body}
</body>
</html>`;
}

/** A hidden field carrying the session's CSRF token: every POST form has one. */
export const csrfField = (csrf: string): Html => html`<input type="hidden" name="_csrf" value="${csrf}">`;

export function page(ctx: PageContext, section: Section, title: string, content: Html): Html {
  const items = NAV.filter((item) => item.section !== 'privacy' || ctx.privacy);
  return document(
    title,
    html`<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">leadgate console</span>
  <nav aria-label="Console">
    <ul>${items.map(
      (item) => html`<li><a href="${item.href}"${item.section === section ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
    )}</ul>
  </nav>
  <form method="post" action="/console/sign-out">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${ctx.notice
  ? ctx.notice.error
    ? html`<p class="notice error" role="alert">${ctx.notice.text}</p>`
    : html`<p class="notice" role="status">${ctx.notice.text}</p>`
  : ''}
${content}
</main>`,
  );
}

export function signInPage(options: { csrf: string; error?: string; status?: string }): Html {
  return document(
    'Sign in',
    html`<main id="main" class="signin">
<h1>leadgate console</h1>
${options.error ? html`<p class="notice error" role="alert">${options.error}</p>` : ''}
${options.status ? html`<p class="notice" role="status">${options.status}</p>` : ''}
<form method="post" action="/console/sign-in">
  <input type="hidden" name="_csrf" value="${options.csrf}">
  <div><label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus></div>
  <button type="submit">Sign in</button>
</form>
<p class="muted">The admin token is LEADGATE_ADMIN_TOKEN. A session lasts 8 hours.</p>
</main>`,
  );
}

/** A page for an error, signed in or not. */
export function errorPage(title: string, text: string, signedIn: PageContext | null): Html {
  const content = html`<p>${text}</p><p><a href="/console">Back to the overview</a></p>`;
  return signedIn ? page(signedIn, 'overview', title, content) : document(title, html`<main id="main"><h1>${title}</h1>${content}</main>`);
}

export const formatTime = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '—' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

export function formatAge(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}
