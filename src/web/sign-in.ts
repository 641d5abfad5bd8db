import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { User, UserRepository } from '../accounts/users.ts';
import type { SignInService } from '../accounts/sign-in.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Csrf } from '../http/csrf.ts';
import { render } from '../http/views.ts';
import { AppError } from '../errors.ts';
import { truncateCodePoints } from '../http/text.ts';
import {
  endSession,
  loginNonce,
  readSession,
  safeNext,
  startSession,
  type WebSession,
} from './session.ts';
import { pageHeaders } from './page-headers.ts';
import { upstreamButtons } from '../http/upstream-buttons.ts';
import { formBody } from '../http/form-body.ts';

/** What sign-in and the signed-in pages need from the composition root. */
export interface WebSignInDeps {
  users: UserRepository;
  /** The one sign-in service (shared with the authorization form). */
  signIn: SignInService;
  /** Signs form tokens, bound to the pre-login nonce or to the session id. */
  csrf: Csrf;
  audit: AuditLog;
  /** Upstream identity providers: a button each on the sign-in page. Default none. */
  upstreams?: ReadonlyArray<{ id: string; name: string }>;
}

/** A signed-in, still active person. */
export interface SignedIn {
  session: WebSession;
  user: User;
}

/** CSRF binding of forms inside a session: a token from another session (another `sid`) never verifies. */
export const sessionBinding = (s: WebSession) => `web:${s.sid}`;
const loginBinding = (nonce: string) => `web-login:${nonce}`;

/** The answer to a form post without this session's CSRF token (403; the error page explains). */
export const csrfRejected = () =>
  new AppError(
    'ERR_CSRF',
    'The form has expired or was not sent by this site. Go back, reload the page and try again.',
  );

/**
 * The signed-in person, or undefined. The account is re-read on every request, so disabling or
 * deleting a user ends their web session at once, not after 8 hours.
 */
export async function signedInUser(
  deps: Pick<WebSignInDeps, 'users'>,
  ctx: Context,
): Promise<SignedIn | undefined> {
  const session = readSession(ctx);
  if (!session) return undefined;
  const user = await deps.users.findById(session.userId);
  // Ended on the server (sign-out, a new password, disabling): copies of the cookie are over too.
  const ended = user?.sessionsNotBefore && session.signedInAt < user.sessionsNotBefore.getTime();
  if (!user || user.disabled || ended) {
    endSession(ctx);
    return undefined;
  }
  return { session, user };
}

/** Sends the browser to the sign-in page, coming back to `next` (a page of this session) afterwards. */
export function redirectToLogin(ctx: Context, next: string): void {
  ctx.status = 303;
  ctx.redirect(`/login?next=${encodeURIComponent(safeNext(next))}`);
}

/**
 * The site's sign-in and sign-out (`/login`, `/logout`; `/approvals/login` and `/approvals/logout`
 * answer the same, for links in mail sent before). Rules enforced:
 * - the sign-in form's CSRF token is bound to a pre-login nonce cookie (no login CSRF);
 * - the attempt goes through the one sign-in service (`SignInService`): normalised email,
 *   throttle shared with the authorization form, audited as `approver.login`;
 * - sign-out needs the session's CSRF token;
 * - after sign-in the browser goes only to a page of this session ({@link safeNext}).
 */
export function webSignInRoutes(deps: WebSignInDeps): Router {
  const router = new Router();
  const form = formBody();
  const page = (
    ctx: Context,
    status: number,
    fields: { next: string; email?: string; error?: string },
  ) => {
    const nonce = loginNonce(ctx, true)!;
    // LOCAL_LOGIN=false: the form only at the documented break-glass address (?break-glass).
    const breakGlass = !deps.signIn.localLogin && ctx.query['break-glass'] !== undefined;
    ctx.status = status;
    ctx.body = render('sign-in', {
      ...fields,
      action: breakGlass ? '/login?break-glass' : '/login',
      csrf: deps.csrf.token(loginBinding(nonce)),
      upstreams: upstreamButtons(deps.upstreams ?? [], { next: fields.next }),
      passwordForm: deps.signIn.localLogin || breakGlass,
    });
  };

  const showForm: Middleware = async (ctx) => {
    const next = safeNext(ctx.query.next);
    if (await signedInUser(deps, ctx)) {
      ctx.status = 303;
      ctx.redirect(next);
      return;
    }
    page(ctx, 200, { next });
  };

  const submit: Middleware = async (ctx) => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const nonce = loginNonce(ctx, false);
    if (!nonce || !deps.csrf.verify(loginBinding(nonce), body.csrf)) {
      const email = typeof body.email === 'string' ? truncateCodePoints(body.email, 320) : '';
      page(ctx, 403, {
        next,
        email,
        error: 'This sign-in form expired or was not sent by this site. Please sign in again.',
      });
      return;
    }
    const outcome = await deps.signIn.signIn({
      email: body.email,
      password: body.password,
      address: ctx.ip,
      action: 'approver.login',
    });
    if (outcome.kind === 'throttled') {
      ctx.set('Retry-After', String(outcome.retryAfter));
      page(ctx, 429, {
        next,
        email: outcome.email,
        error: `Too many failed sign-ins. Try again in ${Math.ceil(outcome.retryAfter / 60)} minute(s).`,
      });
      return;
    }
    if (outcome.kind === 'refused') {
      page(ctx, 401, { next, email: outcome.email, error: 'Wrong email or password.' });
      return;
    }
    if (outcome.kind === 'local-login-off') {
      page(ctx, 403, {
        next,
        email: outcome.email,
        error:
          'Password sign-in is turned off on this server. Sign in with your organisation instead.',
      });
      return;
    }
    startSession(ctx, outcome.userId, 'pwd');
    ctx.status = 303;
    ctx.redirect(next);
  };

  const logout: Middleware = async (ctx) => {
    const me = await signedInUser(deps, ctx);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (me) {
      // Without a valid token the session stays: a cross-site page must not sign people out.
      if (!deps.csrf.verify(sessionBinding(me.session), body.csrf)) throw csrfRejected();
      // Ended on the server as well: a copy of the cookie taken before is refused everywhere.
      await deps.users.endWebSessions(me.user.id);
      endSession(ctx);
      await deps.audit.append({
        action: 'approver.logout',
        result: 'success',
        actor: me.user.id,
        subject: me.user.id,
        data: { address: ctx.ip },
      });
    }
    ctx.status = 303;
    ctx.redirect('/login');
  };

  for (const base of ['', '/approvals']) {
    router.get(`${base}/login`, pageHeaders(), showForm);
    router.post(`${base}/login`, pageHeaders(), form, submit);
    router.post(`${base}/logout`, pageHeaders(), form, logout);
  }
  return router;
}
