import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../auth.js';

/**
 * Console sessions as stateless signed tokens: `<session id>.<expiry, epoch s>.<HMAC>`, the key
 * derived from the admin token. Why not server-side sessions: every process has its own ops
 * listener, and a browser sends one cookie to all of them (cookies ignore ports), so a token any
 * process can check keeps one sign-in valid on every instance and across restarts; rotating
 * LEADGATE_ADMIN_TOKEN ends every session at once. Signing out revokes the session id in this
 * process (kept until it would have expired anyway) and clears the cookie.
 *
 * CSRF tokens are bound to the session the same way: HMAC(key, "csrf." + session id), sent in a
 * hidden field of every form (a signed double-submit: the cookie is HttpOnly and SameSite=Strict,
 * the token is what a forged cross-site form cannot know). The sign-in form, before any session,
 * binds its token to a random nonce in a short-lived cookie.
 */

export const SESSION_COOKIE = 'leadgate_console';
export const SIGN_IN_COOKIE = 'leadgate_console_signin';
export const SESSION_TTL_SEC = 8 * 3600;
export const SIGN_IN_TTL_SEC = 3600;

export interface Session {
  id: string;
  expiresAtSec: number;
}

export interface ConsoleSessions {
  /** A new session and its cookie value. */
  issue(nowMs: number): { session: Session; token: string };
  /** The session of a cookie value, or null when forged, expired or signed out. */
  verify(token: string | undefined, nowMs: number): Session | null;
  revoke(session: Session): void;
  /** The CSRF token of a session. */
  csrfToken(session: Session): string;
  /** A nonce for the sign-in cookie, and the form token that goes with it. */
  signInNonce(): string;
  signInToken(nonce: string): string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

export function createConsoleSessions(adminToken: string): ConsoleSessions {
  // A key of its own, so a session token is never a MAC an attacker could reuse elsewhere.
  const key = createHmac('sha256', adminToken).update('leadgate console v1').digest();
  const mac = (text: string): string => createHmac('sha256', key).update(text).digest('base64url');
  const revoked = new Map<string, number>();

  const prune = (nowSec: number): void => {
    for (const [id, expiresAtSec] of revoked) if (expiresAtSec <= nowSec) revoked.delete(id);
  };

  return {
    issue(nowMs) {
      const session = { id: randomBytes(16).toString('base64url'), expiresAtSec: Math.floor(nowMs / 1000) + SESSION_TTL_SEC };
      const body = `${session.id}.${session.expiresAtSec}`;
      return { session, token: `${body}.${mac(`session.${body}`)}` };
    },
    verify(token, nowMs) {
      if (token === undefined) return null;
      const [id, expiry, signature, ...rest] = token.split('.');
      if (id === undefined || expiry === undefined || signature === undefined || rest.length > 0) return null;
      if (!SESSION_ID.test(id) || !/^\d{1,12}$/.test(expiry)) return null;
      if (!safeEqual(signature, mac(`session.${id}.${expiry}`))) return null;
      const nowSec = Math.floor(nowMs / 1000);
      prune(nowSec);
      const expiresAtSec = Number(expiry);
      if (expiresAtSec <= nowSec || revoked.has(id)) return null;
      return { id, expiresAtSec };
    },
    revoke(session) {
      revoked.set(session.id, session.expiresAtSec);
    },
    csrfToken: (session) => mac(`csrf.${session.id}`),
    signInNonce: () => randomBytes(16).toString('base64url'),
    signInToken: (nonce) => mac(`sign-in.${nonce}`),
  };
}
