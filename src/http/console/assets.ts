import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * The console's only stylesheet and script, served as files from 'self' (the CSP allows no
 * inline script or style). Their URLs carry a hash of the content, so they are cached for good
 * and a new version is a new URL.
 */

const CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --soft: #f6f8fa;
  --accent: #0a58ca; --bad: #b42318; --ok: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #ffbf47; color: #000; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: 0; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; background: #1b1f24; color: #fff; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a { color: #fff; text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
header.top nav a[aria-current="page"] { border-bottom-color: #ffbf47; }
header.top form { margin-left: auto; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); font-size: .9rem; }
.notice { border-left: 4px solid var(--ok); background: #eef8f0; padding: .6rem .8rem; margin: 0 0 1rem; }
.notice.error { border-left-color: var(--bad); background: #fdf0ef; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .88em; word-break: break-all; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 1rem; font-size: .85rem; border: 1px solid var(--line); background: var(--soft); }
.badge.bad { color: var(--bad); border-color: #f3b4ae; background: #fdf0ef; }
.badge.ok { color: var(--ok); border-color: #a6dcb3; background: #eef8f0; }
.badge.warn { color: var(--warn); border-color: #eed48a; background: #fff8e1; }
form.inline { display: inline; }
form.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .75rem; align-items: end; margin: 0 0 1rem; }
label { display: block; font-weight: 600; font-size: .9rem; margin-bottom: .2rem; }
input, select, button { font: inherit; }
input, select { width: 100%; padding: .45rem .5rem; border: 1px solid #8c959f; border-radius: 4px; background: #fff; }
button, .button { display: inline-block; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; cursor: pointer; text-decoration: none; min-height: 2.5rem; }
button.secondary { background: #fff; color: var(--accent); }
input:disabled, button:disabled { background: #eaeef2; border-color: #afb8c1; color: var(--muted); cursor: not-allowed; }
button.danger { background: var(--bad); border-color: var(--bad); }
header.top button { background: transparent; border-color: #fff; color: #fff; min-height: 2.2rem; padding: .2rem .7rem; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 1rem; }
dl.fields dt { font-weight: 600; color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-word; }
ol.timeline { list-style: none; margin: .5rem 0 1rem; padding: 0 0 0 1rem; border-left: 3px solid var(--line); }
ol.timeline li { margin: 0 0 .75rem; padding-left: .5rem; }
pre.excerpt { white-space: pre-wrap; word-break: break-all; background: var(--soft); padding: .4rem .6rem; margin: .3rem 0 0; max-height: 8rem; overflow: auto; }
section.card { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin: 0 0 1rem; }
section.card h3 { margin: 0 0 .5rem; font-size: 1rem; }
.signin { max-width: 26rem; margin: 3rem auto; }
.signin form { display: grid; gap: .75rem; }
.pager { display: flex; gap: 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
@media (max-width: 640px) {
  main { padding: .75rem; }
  header.top form { margin-left: 0; }
  table.cards thead { position: absolute; left: -9999px; }
  table.cards tr { display: block; border: 1px solid var(--line); border-radius: 6px; margin: 0 0 .75rem; padding: .25rem .5rem; }
  table.cards td { display: grid; grid-template-columns: 9rem 1fr; gap: .5rem; border: 0; padding: .3rem 0; text-align: left; }
  table.cards td::before { content: attr(data-label); font-weight: 600; color: var(--muted); }
  dl.fields { grid-template-columns: 1fr; }
  dl.fields dd { margin-bottom: .4rem; }
}
`;

const JS = `'use strict';
// Progressive: every page works without this file; with it, [data-refresh] regions reload their
// HTML fragment every few seconds (skipped while the tab is hidden) and keep the page current.
(function () {
  var regions = document.querySelectorAll('[data-refresh]');
  Array.prototype.forEach.call(regions, function (region) {
    var url = region.getAttribute('data-refresh');
    var every = Number(region.getAttribute('data-every') || '5') * 1000;
    var busy = false;
    function refresh() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } })
        .then(function (res) {
          if (res.status === 401) { window.location.assign('/console/sign-in'); return null; }
          return res.ok ? res.text() : null;
        })
        .then(function (text) { if (text !== null) region.innerHTML = text; })
        .catch(function () { /* offline for a moment: try again next time */ })
        .then(function () { busy = false; });
    }
    window.setInterval(refresh, every);
  });
})();
`;

function asset(body: string, type: string, ext: string) {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { path: `/console/assets/console-${hash}.${ext}`, body, type };
}

export const STYLESHEET = asset(CSS, 'text/css; charset=utf-8', 'css');
export const SCRIPT = asset(JS, 'text/javascript; charset=utf-8', 'js');

export function registerAssets(app: FastifyInstance): void {
  for (const file of [STYLESHEET, SCRIPT]) {
    app.get(file.path, { config: { console: { public: true } } }, async (_request, reply) =>
      reply.type(file.type).header('cache-control', 'public, max-age=31536000, immutable').send(file.body),
    );
  }
}
