import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorSummary } from '../../observability/error-summary.js';
import { writeAudit } from '../audit.js';
import { safeEqual } from '../auth.js';
import { HttpError } from '../http-error.js';
import { ADMIN_AUTH_FAILURES_PER_MINUTE } from '../routes/admin.js';
import { registerAssets } from './assets.js';
import { formField, type ConsoleDeps, type ConsoleKit } from './kit.js';
import { registerPages } from './pages.js';
import {
  createConsoleSessions,
  SESSION_COOKIE,
  SESSION_TTL_SEC,
  SIGN_IN_COOKIE,
  SIGN_IN_TTL_SEC,
  type Session,
} from './session.js';
import { errorPage, signInPage } from './views/layout.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Console routes: `public` needs no session (sign-in, assets); `audit` writes an `admin audit`
     * line; `fragment` is fetched by the page's script (401 rather than a redirect when signed out).
     */
    console?: { public?: boolean; audit?: boolean; fragment?: boolean };
  }
  interface FastifyRequest {
    consoleSession: Session | null;
    /** Record ids a handler adds to its `admin audit` line (an erasure it recorded). */
    consoleAudit: { erasureId?: string } | null;
  }
}

/** No inline script or style: the console's one script and stylesheet are files from 'self'. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * The ops console at /console, on the ops listener only, registered only with an admin token.
 * Server-rendered HTML; a session cookie after signing in with the admin token; a CSRF token on
 * every POST; one `admin audit` line (actor "console") per action, lead view and reveal.
 */
export async function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  const sessions = createConsoleSessions(deps.adminToken);
  app.decorateRequest('consoleSession', null);
  app.decorateRequest('consoleAudit', null);

  const kit: ConsoleKit = {
    sessions,
    context: (request, notice) => ({
      csrf: request.consoleSession ? sessions.csrfToken(request.consoleSession) : '',
      privacy: deps.privacy !== undefined,
      ...(notice ? { notice } : {}),
    }),
    send: (reply, body, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body.value),
    async fromStore(request, call) {
      try {
        return await call();
      } catch (err) {
        if (err instanceof HttpError) throw err;
        request.log.warn({ err: errorSummary(err) }, 'store unavailable');
        throw new HttpError(503, 'unavailable', 'The store did not answer; try again in a moment.', undefined, { 'retry-after': '5' });
      }
    },
  };

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('content-security-policy', CSP);
    const options = request.routeOptions.config.console;
    if (options?.public) return;
    request.consoleSession = sessions.verify(request.cookies[SESSION_COOKIE], deps.now());
    if (request.consoleSession !== null) return;
    if (request.method === 'GET' && !options?.fragment) {
      return reply.code(303).header('location', '/console/sign-in').send();
    }
    throw new HttpError(401, 'unauthorized', 'Sign in again: the session is missing or has expired.');
  });
  // Every POST of a signed-in session carries its CSRF token; a forged cross-site form cannot.
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST' || request.routeOptions.config.console?.public) return;
    const sent = formField(request.body, '_csrf') ?? '';
    if (request.consoleSession === null || !safeEqual(sent, sessions.csrfToken(request.consoleSession))) {
      throw new HttpError(403, 'unauthorized', 'This form did not come from this console session (missing or wrong CSRF token). Reload the page and try again.');
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) void reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!request.routeOptions.config.console?.audit) return;
    const params = (request.params ?? {}) as { id?: unknown };
    const id = typeof params.id === 'string' ? params.id : undefined;
    const route = request.routeOptions.url ?? 'unmatched';
    writeAudit(request, reply, deps.metrics, {
      actor: request.consoleSession ? 'console' : 'unauthenticated',
      action: `${request.method} ${route}`,
      ...(route.startsWith('/console/leads/:id') ? { leadId: id } : {}),
      ...(route.startsWith('/console/deliveries/:id') ? { deliveryId: id } : {}),
      ...(route.startsWith('/console/destinations/:id') ? { destination: id } : {}),
      ...(route.startsWith('/console/privacy/erasures/:id') ? { erasureId: id } : {}),
      ...request.consoleAudit,
    });
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    const known = error instanceof HttpError;
    const status = known ? error.statusCode : error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500 && !known) request.log.error({ err: errorSummary(error) }, 'console error');
    if (known && error.headers) void reply.headers(error.headers);
    const title = status === 401 ? 'Signed out' : status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : status === 429 ? 'Too many attempts' : status >= 500 ? 'Unavailable' : 'Bad request';
    const text = known || status < 500 ? error.message : 'Something went wrong; it was logged.';
    const signedIn = request.consoleSession ? kit.context(request) : null;
    return kit.send(reply, errorPage(title, text, signedIn), status);
  });

  registerAssets(app);
  registerSignIn(app, deps, kit);
  registerPages(app, deps, kit);
}

function registerSignIn(app: FastifyInstance, deps: ConsoleDeps, kit: ConsoleKit): void {
  const { sessions } = kit;
  const cookieBase = { path: '/console', httpOnly: true, sameSite: 'strict', secure: 'auto' } as const;
  const failuresKey = (request: FastifyRequest) => `admin-auth:${request.ip}`;

  /** A fresh sign-in form: a new nonce cookie and the token bound to it. */
  const signInForm = (reply: FastifyReply, options: { error?: string; status?: string }, code = 200) => {
    const nonce = sessions.signInNonce();
    void reply.setCookie(SIGN_IN_COOKIE, nonce, { ...cookieBase, maxAge: SIGN_IN_TTL_SEC });
    return kit.send(reply, signInPage({ csrf: sessions.signInToken(nonce), ...options }), code);
  };

  app.get<{ Querystring: { done?: string } }>('/console/sign-in', { config: { console: { public: true } } }, async (request, reply) => {
    if (sessions.verify(request.cookies[SESSION_COOKIE], deps.now())) return reply.code(303).header('location', '/console').send();
    return signInForm(reply, request.query.done === 'signed-out' ? { status: 'Signed out.' } : {});
  });

  app.post('/console/sign-in', { config: { console: { public: true, audit: true } } }, async (request, reply) => {
    // An IP that failed too often is turned away before its next guess is even compared.
    const waitMs = await deps.budgets.check(failuresKey(request), ADMIN_AUTH_FAILURES_PER_MINUTE);
    if (waitMs !== null) {
      deps.metrics.budgetRejections.inc({ budget: 'admin_auth' });
      void reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
      return signInForm(reply, { error: 'Too many failed sign-ins from this address: wait a minute and try again.' }, 429);
    }
    const nonce = request.cookies[SIGN_IN_COOKIE];
    if (nonce === undefined || !safeEqual(formField(request.body, '_csrf') ?? '', sessions.signInToken(nonce))) {
      return signInForm(reply, { error: 'The sign-in form had expired or did not come from this console. Try again.' }, 403);
    }
    // Compared even when empty, so timing does not tell a missing token from a wrong one.
    if (!safeEqual(formField(request.body, 'token') ?? '', deps.adminToken)) {
      await deps.budgets.spend(failuresKey(request), ADMIN_AUTH_FAILURES_PER_MINUTE);
      return signInForm(reply, { error: 'That is not the admin token.' }, 401);
    }
    const { session, token } = sessions.issue(deps.now());
    request.consoleSession = session;
    void reply.clearCookie(SIGN_IN_COOKIE, { path: '/console' });
    void reply.setCookie(SESSION_COOKIE, token, { ...cookieBase, maxAge: SESSION_TTL_SEC });
    return reply.code(303).header('location', '/console').send();
  });

  app.post('/console/sign-out', { config: { console: { audit: true } } }, async (request, reply) => {
    if (request.consoleSession) sessions.revoke(request.consoleSession);
    void reply.clearCookie(SESSION_COOKIE, { path: '/console' });
    return reply.code(303).header('location', '/console/sign-in?done=signed-out').send();
  });
}
