import Router from '@koa/router';
import { formBody } from '../http/form-body.ts';
import type { Context } from 'koa';
import type { UserRepository } from '../accounts/users.ts';
import type { ElevationService } from '../elevation/service.ts';
import { notAnApprover, ticketClosed, ticketNotFound } from '../elevation/errors.ts';
import type { Csrf } from '../http/csrf.ts';
import { render } from '../http/views.ts';
import { invalid, isAppError } from '../errors.ts';
import {
  csrfRejected,
  redirectToLogin,
  sessionBinding,
  signedInUser,
  type SignedIn,
} from '../web/sign-in.ts';
import { pageHeaders } from '../web/page-headers.ts';
import type { PasskeyService } from './service.ts';
import { PASSKEYS_SCRIPT_PATH, WEBAUTHN_BUNDLE_PATH } from './assets.ts';

/** What the passkey pages need from the composition root. */
export interface PasskeyRouteDeps {
  passkeys: PasskeyService;
  users: UserRepository;
  elevation: ElevationService;
  /** Signs form tokens, bound to the web session id (`sessionBinding`). */
  csrf: Csrf;
  /** Clock of the ticket check. Default `() => new Date()`. */
  currentDate?: () => Date;
}

const TICKET_ID = /^[\w-]{1,64}$/;
const NOTICES = {
  added: 'Your passkey was added.',
  removed: 'The passkey was removed.',
} as const;

/** The scripts of a page that runs a passkey ceremony (files of this site; the CSP allows no other). */
export const PASSKEY_SCRIPTS = [WEBAUTHN_BUNDLE_PATH, PASSKEYS_SCRIPT_PATH] as const;

/**
 * Passkey enrolment at `/approvals/passkeys` (list, add, remove) and the challenge of an approval
 * (`POST /approvals/passkeys/approval-options`). Rules enforced:
 * - every route needs the web session; every post its CSRF token (forms and the script's
 *   fetches alike);
 * - a user sees and removes only their own passkeys;
 * - an approval challenge is issued only to an approver of an open ticket who did not ask for it,
 *   bound to that ticket and one decision;
 * - the page works without JavaScript as far as it can: it lists and removes, and says plainly
 *   that adding a passkey needs JavaScript.
 */
export function passkeyRoutes(deps: PasskeyRouteDeps): Router {
  const router = new Router({ prefix: '/approvals/passkeys' });
  const form = formBody();
  const now = deps.currentDate ?? (() => new Date());
  router.use(pageHeaders({ scripts: true }));

  /** The signed-in person of a post with a valid CSRF token, or undefined after redirecting. */
  async function poster(ctx: Context): Promise<SignedIn | undefined> {
    const me = await signedInUser(deps, ctx);
    if (!me) {
      redirectToLogin(ctx, '/approvals/passkeys');
      return undefined;
    }
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!deps.csrf.verify(sessionBinding(me.session), body.csrf)) throw csrfRejected();
    return me;
  }

  async function page(ctx: Context, me: SignedIn, status = 200, error?: string) {
    const done = String(ctx.query.done ?? '');
    ctx.status = status;
    ctx.body = render('passkeys', {
      me: { email: me.user.email, name: me.user.name },
      csrf: deps.csrf.token(sessionBinding(me.session)),
      scripts: PASSKEY_SCRIPTS,
      passkeys: (await deps.passkeys.list(me.user.id)).map((p) => ({
        id: p.id,
        name: p.name,
        kind: p.deviceType === 'multiDevice' ? 'synced passkey' : 'this device only',
        created: p.createdAt.toISOString(),
        lastUsed: p.lastUsedAt ? p.lastUsedAt.toISOString() : 'never',
      })),
      notice: Object.hasOwn(NOTICES, done) ? NOTICES[done as keyof typeof NOTICES] : null,
      error: error ?? null,
    });
  }

  router.get('/', async (ctx) => {
    const me = await signedInUser(deps, ctx);
    if (!me) return redirectToLogin(ctx, '/approvals/passkeys');
    await page(ctx, me);
  });

  router.post('/options', form, async (ctx) => {
    const me = await poster(ctx);
    if (!me) return;
    ctx.body = await deps.passkeys.registrationOptions(me.user);
  });

  router.post('/', form, async (ctx) => {
    const me = await poster(ctx);
    if (!me) return;
    const body = ctx.request.body as Record<string, unknown>;
    if (typeof body.response !== 'string' || !body.response)
      return page(
        ctx,
        me,
        400,
        'Adding a passkey needs JavaScript: turn it on for this site and try again.',
      );
    try {
      await deps.passkeys.register(me.user, body.response, body.name);
    } catch (err) {
      if (!isAppError(err, 'ERR_PASSKEY_INVALID')) throw err;
      return page(ctx, me, 400, err.message);
    }
    ctx.status = 303;
    ctx.redirect('/approvals/passkeys?done=added');
  });

  router.post('/:id/remove', form, async (ctx) => {
    const me = await poster(ctx);
    if (!me) return;
    await deps.passkeys.remove(me.user.id, ctx.params.id!);
    ctx.status = 303;
    ctx.redirect('/approvals/passkeys?done=removed');
  });

  router.post('/approval-options', form, async (ctx) => {
    const me = await poster(ctx);
    if (!me) return;
    const body = ctx.request.body as Record<string, unknown>;
    if (body.decision !== 'approve' && body.decision !== 'deny')
      throw invalid('Choose approve or deny.', { field: 'decision' });
    const id = typeof body.ticket === 'string' && TICKET_ID.test(body.ticket) ? body.ticket : '';
    const ticket = id ? await deps.elevation.ticket(id) : undefined;
    if (!ticket) throw ticketNotFound();
    if (
      ticket.requester_id === me.user.id ||
      ticket.subject === me.user.id ||
      !(await deps.elevation.approvableScopes(ticket, me.user.id)).length
    )
      throw notAnApprover();
    if (ticket.status !== 'pending' || ticket.expires_at.getTime() <= now().getTime())
      throw ticketClosed(ticket.status);
    ctx.body = await deps.passkeys.approvalOptions(me.user.id, ticket.id, body.decision);
  });

  return router;
}
