/**
 * leadgate's browser embed (docs/brand-sites.md): turns every
 * `<form data-leadgate-key data-leadgate-service>` into a lead form posting to `POST /v1/leads`.
 * No dependency; compiled to one ES2019 file (scripts/post-build.mjs, served at /v1/embed.js).
 */

interface Visit {
  url: string;
  referrer?: string;
  utm?: Record<string, string>;
  at: string;
}

interface Touches {
  first?: Visit;
  last?: Visit;
}

interface Detail {
  path: string;
  message: string;
}

/** What `leadgate:error` carries and `leadgate.submit()` rejects with. */
interface LeadgateError {
  error: string;
  /** The HTTP status, 0 when leadgate could not be reached. */
  status: number;
  message: string;
  details?: Detail[];
}

interface FormState {
  shownAt?: string;
  busy?: Promise<{ id: string }>;
  status: HTMLElement;
  honeypot: HTMLInputElement;
  invalid: Element[];
}

const A = 'data-leadgate-';
const CONTACT = ['first_name', 'last_name', 'email', 'phone', 'postal_code', 'city'];
const CONSENTS = ['contact', 'marketing'];
const CAPTCHAS = ['cf-turnstile-response', 'h-captcha-response', 'g-recaptcha-response'];
const CLICK_IDS = ['gclid', 'fbclid', 'msclkid'];
const MAP_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const TOUCH_KEY = 'leadgate:touch';
const TOUCH_DAYS_MS = 90 * 864e5;
const win = window as unknown as Record<string, { reset?: () => void } | undefined>;

const script = document.currentScript as HTMLScriptElement | null;
/** Where leadgate is: the origin this script came from, unless a form names another. */
const scriptOrigin = script && script.src ? new URL(script.src).origin : location.origin;
const states = new WeakMap<HTMLFormElement, FormState>();

const attr = (form: HTMLFormElement, name: string): string => form.getAttribute(A + name) || '';
const now = (): string => new Date().toISOString();
/** Browsers may hand out CR LF; leadgate refuses CR (a control character). */
const text = (value: string, max: number): string => value.replace(/\r\n?/g, '\n').trim().slice(0, max);

function storage(kind: 'localStorage' | 'sessionStorage'): Storage | null {
  try {
    return window[kind];
  } catch {
    return null; // blocked (third-party storage settings)
  }
}

function read<T>(store: Storage | null, key: string): T | null {
  try {
    return JSON.parse((store && store.getItem(key)) || 'null') as T | null;
  } catch {
    return null;
  }
}

function write(store: Storage | null, key: string, value: unknown): void {
  try {
    if (!store) return;
    if (value === null) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    // full or blocked: the submission still works, without what this would have kept
  }
}

/** `utm_*` (without the prefix) and click ids from a query string, as leadgate's `utm` takes them. */
function attribution(search: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let count = 0;
  new URLSearchParams(search).forEach((value, name) => {
    const key = name.indexOf('utm_') === 0 ? name.slice(4) : CLICK_IDS.indexOf(name) >= 0 ? name : '';
    if (MAP_KEY.test(key) && !(key in out) && value && count < 10) {
      out[key] = text(value, 200);
      count++;
    }
  });
  return count ? out : undefined;
}

const pageUrl = (): string => location.href.split('#')[0]!.slice(0, 2048);
const referrer = (): string | undefined => text(document.referrer, 2048) || undefined;

/**
 * First and last touch, kept 90 days in localStorage: the first page view, and the latest one
 * that came with attribution parameters or from another site.
 */
function recordTouch(): Touches {
  const store = storage('localStorage');
  const touches = read<Touches>(store, TOUCH_KEY) || {};
  const here: Visit = { url: pageUrl(), referrer: referrer(), utm: attribution(location.search), at: now() };
  const fresh = (touch?: Visit) => !!touch && Date.now() - Date.parse(touch.at) < TOUCH_DAYS_MS;
  let external = false;
  try {
    external = !!document.referrer && new URL(document.referrer).host !== location.host;
  } catch {
    // not a URL: not another site either
  }
  if (!fresh(touches.first)) touches.first = here;
  if (!fresh(touches.last) || here.utm || external) touches.last = here;
  write(store, TOUCH_KEY, touches);
  return touches;
}

const touches = recordTouch();

function uuid(): string {
  const c = window.crypto;
  if (c && c.randomUUID) return c.randomUUID(); // secure contexts only (https, localhost)
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6]! & 15) | 64;
  b[8] = (b[8]! & 63) | 128;
  const hex = Array.prototype.map.call(b, (x: number) => (x + 256).toString(16).slice(1)).join('');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

function labelOf(field: Element): string {
  const labels = (field as HTMLInputElement).labels;
  const label = labels && labels[0] ? labels[0].textContent || '' : field.getAttribute('aria-label') || '';
  return label.replace(/\s+/g, ' ').trim();
}

function field(form: HTMLFormElement, name: string): HTMLInputElement | null {
  // A radio group (RadioNodeList) is a meta value, never a contact field or a checkbox.
  const found = form.elements.namedItem(name);
  return found && !(found instanceof RadioNodeList) ? (found as HTMLInputElement) : null;
}

function successElement(form: HTMLFormElement): HTMLElement | null {
  const inside = form.querySelector<HTMLElement>('[' + A + 'success]');
  if (inside || !form.id) return inside;
  const all = document.querySelectorAll<HTMLElement>('[' + A + 'success]');
  for (let i = 0; i < all.length; i++) if (all[i]!.getAttribute(A + 'success') === form.id) return all[i]!;
  return null;
}

function setup(form: HTMLFormElement): FormState {
  const known = states.get(form);
  if (known) return known;
  const hpName = attr(form, 'honeypot') || 'website';
  let honeypot = field(form, hpName);
  if (!honeypot) {
    // Visually hidden but not type=hidden: bots that fill every text field fill this one.
    const wrap = document.createElement('div');
    wrap.setAttribute('aria-hidden', 'true');
    wrap.style.cssText = 'position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden';
    honeypot = document.createElement('input');
    honeypot.type = 'text';
    honeypot.name = hpName;
    honeypot.tabIndex = -1;
    honeypot.autocomplete = 'off';
    wrap.appendChild(honeypot);
    form.appendChild(wrap);
  }
  let status = form.querySelector<HTMLElement>('[' + A + 'status]');
  if (!status) {
    status = document.createElement('p');
    status.setAttribute(A + 'status', '');
    form.appendChild(status);
  }
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  const success = successElement(form);
  if (success) success.hidden = true;

  const state: FormState = { status, honeypot, invalid: [] };
  states.set(form, state);
  // Shown = on screen: a form below the fold or in a closed dialog starts counting when seen.
  const seen = () => (state.shownAt = state.shownAt || now());
  if (window.IntersectionObserver) {
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen();
        observer.disconnect();
      }
    });
    observer.observe(form);
  } else seen();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(form).catch(() => undefined); // shown in the form and sent as leadgate:error
  });
  form.addEventListener('input', (event) => (event.target as Element).removeAttribute('aria-invalid'));
  return state;
}

function collect(form: HTMLFormElement, state: FormState): Record<string, unknown> {
  const contact: Record<string, string> = {};
  // Field names come from the page: no prototype lookups, and leadgate refuses these three.
  const meta: Record<string, string> = Object.create(null);
  const consent: Record<string, unknown> = {};
  const consentTexts: string[] = [];
  let message: string | undefined;
  let metaCount = 0;
  const skip = [state.honeypot.name].concat(CAPTCHAS, CONSENTS.map((c) => 'consent_' + c));
  new FormData(form).forEach((raw, name) => {
    if (typeof raw !== 'string' || skip.indexOf(name) >= 0) return;
    const value = text(raw, name === 'message' ? 5000 : 500);
    if (!value) return;
    if (CONTACT.indexOf(name) >= 0) contact[name] = value;
    else if (name === 'message') message = value;
    else if (meta[name]) meta[name] = (meta[name] + ', ' + value).slice(0, 500);
    else if (MAP_KEY.test(name) && ['__proto__', 'constructor', 'prototype'].indexOf(name) < 0 && metaCount < 20) {
      meta[name] = value;
      metaCount++;
    }
  });
  CONSENTS.forEach((c) => {
    const box = field(form, 'consent_' + c);
    if (!box || box.type !== 'checkbox') return;
    consent[c] = box.checked;
    if (box.checked && labelOf(box)) consentTexts.push(labelOf(box));
  });
  if (consentTexts.length) consent.text = consentTexts.join('\n').slice(0, 1000);
  if (attr(form, 'consent-version')) consent.text_version = attr(form, 'consent-version');

  let captcha: string | undefined;
  CAPTCHAS.forEach((name) => {
    const widget = form.querySelector<HTMLInputElement>('[name="' + name + '"]');
    if (widget && widget.value) captcha = widget.value;
  });
  return {
    contact,
    service: attr(form, 'service'),
    message,
    consent,
    source: {
      url: pageUrl(),
      form: (attr(form, 'form') || form.id || '').slice(0, 100) || undefined,
      referrer: referrer(),
      utm: attribution(location.search),
      first_touch: touches.first,
      last_touch: touches.last,
    },
    meta,
    bot: { honeypot: state.honeypot.value, form_shown_at: state.shownAt, captcha_token: captcha },
  };
}

/** `/contact/email` → the field named `email`; `/contact` (neither given) → both. */
function fieldsOf(form: HTMLFormElement, path: string): HTMLInputElement[] {
  const parts = path.split('/');
  const names =
    path === '/contact' ? ['email', 'phone'] : parts[1] === 'consent' ? ['consent_' + parts[2]] : [parts[parts.length - 1]!];
  return names.map((n) => field(form, n)).filter((f): f is HTMLInputElement => !!f);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(form: HTMLFormElement, state: FormState): Promise<{ id: string }> {
  const buttons = form.querySelectorAll<HTMLButtonElement>('button:not([type]),[type=submit]');
  const setBusy = (busy: boolean) => {
    for (let i = 0; i < buttons.length; i++) buttons[i]!.disabled = busy;
    form.setAttribute('aria-busy', String(busy));
  };
  state.invalid.forEach((f) => f.removeAttribute('aria-invalid'));
  state.invalid = [];
  state.status.textContent = '';
  const shown = successElement(form);
  if (shown) shown.hidden = true;
  form.setAttribute(A + 'state', 'sending');
  setBusy(true);
  try {
    const body = JSON.stringify(collect(form, state));
    // One Idempotency-Key per submission, kept until a final answer: a retry, a second click
    // after a failure or a reload with the same values cannot create a second lead.
    const session = storage('sessionStorage');
    const slot = 'leadgate:key:' + (attr(form, 'form') || form.id || attr(form, 'service'));
    let saved = read<{ k: string; b: string }>(session, slot);
    if (!saved || saved.b !== body) saved = { k: uuid(), b: body };
    write(session, slot, saved);

    const endpoint = (attr(form, 'endpoint') || scriptOrigin).replace(/\/+$/, '') + '/v1/leads';
    const deadline = Date.now() + (Number(attr(form, 'retry-for')) || 30) * 1000;
    let backoff = 500;
    let res: Response | undefined;
    for (;;) {
      let wait = backoff;
      try {
        res = await fetch(endpoint, {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + attr(form, 'key'), 'Idempotency-Key': saved.k },
          body,
        });
        if ([409, 429, 503].indexOf(res.status) < 0) break;
        wait = Math.max(wait, Number(res.headers.get('Retry-After')) * 1000 || 0);
      } catch {
        res = undefined; // offline, refused, or blocked by CORS: the browser does not say which
      }
      if (Date.now() + wait > deadline) break;
      await delay(wait * (0.8 + Math.random() * 0.4));
      backoff = Math.min(backoff * 2, 8000);
    }

    let data: { id?: string; error?: string; message?: string; details?: Detail[] } = {};
    try {
      data = res ? await res.json() : {};
    } catch {
      // not JSON (a proxy's page): the status says enough
    }
    if (res && res.ok && data.id) {
      write(session, slot, null);
      return success(form, state, data.id);
    }
    // A final refusal drops the key; after network errors, 409, 429 and 5xx a new click reuses it.
    if (res && res.status < 500 && res.status !== 409 && res.status !== 429) write(session, slot, null);
    const error: LeadgateError = {
      error: data.error || (res ? 'http_' + res.status : 'network_error'),
      status: res ? res.status : 0,
      message: data.message || (res ? 'The form could not be sent (' + res.status + ').' : 'The form could not be sent. Check your connection and try again.'),
      details: data.details,
    };
    throw fail(form, state, error);
  } finally {
    setBusy(false);
  }
}

function success(form: HTMLFormElement, state: FormState, id: string): { id: string } {
  form.setAttribute(A + 'state', 'success');
  form.reset();
  form.dispatchEvent(new CustomEvent('leadgate:success', { bubbles: true, detail: { id } }));
  const next = attr(form, 'success-url');
  if (next) location.assign(next);
  const shown = successElement(form);
  if (shown) {
    shown.hidden = false;
    shown.tabIndex = -1;
    shown.focus();
  }
  state.shownAt = now(); // a second lead from the same page is timed afresh
  return { id };
}

function fail(form: HTMLFormElement, state: FormState, error: LeadgateError): LeadgateError {
  form.setAttribute(A + 'state', 'error');
  const lines: string[] = [];
  (error.details || []).forEach((d) => {
    const fields = fieldsOf(form, d.path);
    fields.forEach((f) => {
      f.setAttribute('aria-invalid', 'true');
      state.invalid.push(f);
    });
    lines.push((fields[0] ? labelOf(fields[0]) || fields[0].name : d.path) + ': ' + d.message + '.');
  });
  state.status.textContent = lines.length ? lines.join(' ') : error.message;
  if (state.invalid[0]) (state.invalid[0] as HTMLElement).focus();
  if (error.error === 'captcha_failed') {
    ['turnstile', 'hcaptcha', 'grecaptcha'].forEach((name) => {
      const widget = win[name];
      if (widget && widget.reset) widget.reset();
    });
  }
  form.dispatchEvent(new CustomEvent('leadgate:error', { bubbles: true, detail: error }));
  return error;
}

/** Sends the form once at a time: a second call while it is sending gets the same Promise. */
function submit(form: HTMLFormElement): Promise<{ id: string }> {
  const state = setup(form);
  if (state.busy) return state.busy;
  if (!form.noValidate && !form.reportValidity()) {
    return Promise.reject({ error: 'invalid_form', status: 0, message: 'The form has invalid fields.' });
  }
  state.busy = post(form, state);
  const done = () => (state.busy = undefined);
  state.busy.then(done, done);
  return state.busy;
}

function scan(): void {
  const forms = document.querySelectorAll<HTMLFormElement>('form[' + A + 'key]');
  for (let i = 0; i < forms.length; i++) setup(forms[i]!);
}

(window as unknown as { leadgate: unknown }).leadgate = { submit, scan };
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', scan);
else scan();

// A module, so its names stay its own (esbuild wraps it in a function).
export {};
