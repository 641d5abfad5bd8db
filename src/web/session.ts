import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { SetOption } from 'cookies';
import { DEFAULTS } from '../config/defaults.ts';

/**
 * The web session of a person on this site's own pages: `/approvals`, `/account`, `/console`.
 * One cookie, one sign-in page (`/login`), one reading of the cookie for every page; the OAuth
 * session of the authorization flow is oidc-provider's own and separate.
 */

/** Name of the web session cookie (its Koa signature travels in `mcp_elevate_session.sig`). */
export const SESSION_COOKIE = 'mcp_elevate_session';
/** Name of the pre-login cookie whose nonce the sign-in form's CSRF token is bound to. */
export const LOGIN_COOKIE = 'mcp_elevate_login';
/** A web session lasts 8 hours from sign-in, whatever the activity. */
export const SESSION_MAX_AGE_MS = DEFAULTS.approverSessionMaxAgeMs;
const LOGIN_MAX_AGE_MS = DEFAULTS.approverLoginFormMaxAgeMs;
/** The site's pages that use this session; sign-in may lead to any of them. */
export const SESSION_PAGES = ['/approvals', '/account', '/console'] as const;
const FALLBACK = '/approvals';

/**
 * How the person signed in, in RFC 8176 `amr` values: `pwd` (password form) or `fed` (an upstream
 * identity provider; see `federation/`). Recorded with every decision taken in the session.
 */
export type SignInMethod = 'pwd' | 'fed';

/** A signed-in person, as read from the session cookie. */
export interface WebSession {
  userId: string;
  /** Sign-in time (ms since epoch). */
  signedInAt: number;
  /** Random id of this sign-in: CSRF tokens are bound to it, so another session's token is useless here. */
  sid: string;
  /** How this session was signed in. */
  method: SignInMethod;
}

/**
 * Koa signs cookies with `app.keys`; oidc-provider sets them from its `cookies.keys` (the server's
 * cookie keys). Without keys a signed cookie cannot be written or trusted, so refuse loudly.
 */
function assertKeys(ctx: Context): void {
  if (!ctx.app.keys || (Array.isArray(ctx.app.keys) && !ctx.app.keys.length))
    throw new Error('web sessions need the app cookie keys (app.keys)');
}

function cookieOptions(ctx: Context, maxAge: number): SetOption {
  // One cookie for the site's pages (`path: '/'`); Lax keeps it off cross-site POSTs; `secure` whenever the
  // request came over TLS (Koa refuses secure cookies on plain HTTP, as in local tests).
  return {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    maxAge,
    secure: ctx.secure,
    overwrite: true,
  };
}

/** The web session of this request, or undefined (absent, forged, malformed or older than 8 h). */
export function readSession(ctx: Context, now = Date.now()): WebSession | undefined {
  assertKeys(ctx);
  const raw = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  const m = raw ? /^v2\.([\w-]{1,64})\.(\d{1,15})\.([\w-]{16,64})\.(pwd|fed)$/.exec(raw) : null;
  if (!m) return undefined;
  const signedInAt = Number(m[2]);
  // The cookie's Max-Age is only advice to the browser; the age is enforced here.
  if (!(signedInAt <= now + 60_000 && now - signedInAt < SESSION_MAX_AGE_MS)) return undefined;
  return { userId: m[1]!, signedInAt, sid: m[3]!, method: m[4] as SignInMethod };
}

/**
 * Starts a new session for `userId` signed in by `method` (a fresh `sid`, so tokens of an earlier
 * session stop working). The one place a web session begins: the password form and federation.
 */
export function startSession(
  ctx: Context,
  userId: string,
  method: SignInMethod,
  now = Date.now(),
): WebSession {
  assertKeys(ctx);
  const session = { userId, signedInAt: now, sid: randomBytes(18).toString('base64url'), method };
  ctx.cookies.set(
    SESSION_COOKIE,
    `v2.${userId}.${now}.${session.sid}.${method}`,
    cookieOptions(ctx, SESSION_MAX_AGE_MS),
  );
  ctx.cookies.set(LOGIN_COOKIE, null, cookieOptions(ctx, 0));
  return session;
}

/**
 * Clears the session cookie in this browser. Ending it on the server (copies of the cookie
 * included) is `UserRepository.endWebSessions`, which sign-out calls (ARCHITECTURE.md §13).
 */
export function endSession(ctx: Context): void {
  assertKeys(ctx);
  ctx.cookies.set(SESSION_COOKIE, null, cookieOptions(ctx, 0));
}

/**
 * The nonce of the sign-in form, set on first display. Binding the form's CSRF token to it stops
 * login CSRF: a cross-site POST carries no Lax cookie, so it cannot match.
 */
export function loginNonce(ctx: Context, create: boolean): string | undefined {
  assertKeys(ctx);
  const existing = ctx.cookies.get(LOGIN_COOKIE, { signed: true });
  if (existing && /^[\w-]{16,64}$/.test(existing)) return existing;
  if (!create) return undefined;
  const nonce = randomBytes(18).toString('base64url');
  ctx.cookies.set(LOGIN_COOKIE, nonce, cookieOptions(ctx, LOGIN_MAX_AGE_MS));
  return nonce;
}

/**
 * Where to go after sign-in. Rules it enforces (no open redirect):
 * - only a string that is a path on this site: starts with one `/`, no `//` or `/\` (which browsers
 *   read as another host), no backslashes or control characters;
 * - only the pages this session is valid on ({@link SESSION_PAGES} and below), never a sign-in or
 *   sign-out path in any spelling the router answers (it ignores case and a trailing slash);
 * - anything else falls back to `/approvals`.
 */
export function safeNext(next: unknown): string {
  const fallback = FALLBACK;
  if (typeof next !== 'string' || next.length > 512) return fallback;
  if (!next.startsWith('/') || next.startsWith('//') || /[\\\p{Cc}]/u.test(next)) return fallback;
  const base = new URL('http://approvals.invalid');
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return fallback;
  }
  if (url.origin !== base.origin) return fallback;
  const page = SESSION_PAGES.find((p) => url.pathname === p || url.pathname.startsWith(`${p}/`));
  if (!page) return fallback;
  if (/\/(login|logout)\/*$/i.test(url.pathname)) return fallback;
  return `${url.pathname}${url.search}`;
}
