import Router from '@koa/router';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import type { UserRepository } from '../../accounts/users.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Csrf } from '../../http/csrf.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { ElevationAdminService } from '../../admin/services/elevations.ts';
import { TicketAdminService } from '../../admin/services/tickets.ts';
import { UserGrants } from '../../oidc/user-grants.ts';
import { ElevationError } from '../../elevation/errors.ts';
import { invalid, notFound } from '../../errors.ts';
import { render } from '../../http/views.ts';
import { pageHeaders } from '../page-headers.ts';
import { csrfRejected, redirectToLogin, sessionBinding, signedInUser } from '../sign-in.ts';
import { accountPage, type PasskeyLister } from './page.ts';
import { LOCAL_TIME_SCRIPT, localTimeScript } from '../local-time.ts';
import { formBody } from '../../http/form-body.ts';

/** What the account page needs from the composition root. */
export interface AccountDeps {
  db: Kysely<Database>;
  users: UserRepository;
  elevation: ElevationService;
  audit: AuditLog;
  /** Signs form tokens; bound here to the web session id. */
  csrf: Csrf;
  /** Looks up agent names and revokes grants' tokens. */
  provider: Provider;
  /** Lists the user's passkeys. */
  passkeys: PasskeyLister;
  /** Clock of "time left" and of which requests are still open. Default `() => new Date()`. */
  currentDate?: () => Date;
}

const ID = /^[\w-]{1,64}$/;

/**
 * "My access" at `/account` for every signed-in user (DESIGN §13): live elevations with a drop
 * button, pending requests with cancel, past requests with their decisions, authorized agents with
 * revoke, and passkeys. Rules enforced:
 * - every page and post needs a web session, else the browser goes to `/login?next=/account`;
 * - every post needs this session's CSRF token (403 otherwise) and answers with a 303 back to
 *   `/account?done=…` (a fixed notice, never request text);
 * - the page has no rule of its own: it reads through the admin services' queries narrowed to the
 *   signed-in user, and acts through the paths the API uses — dropping an elevation is
 *   `ElevationService.revoke` after the subject check of `DELETE /elevation/v1/elevations/:id`,
 *   cancelling is `ElevationService.cancel` (the requester rule), revoking an agent is
 *   {@link UserGrants.revoke} — so the same checks and audit events happen;
 * - another user's elevation, request or agent is a 404 and changes nothing;
 * - views escape everything; the page works without JavaScript (a script of this site only
 *   rewrites times to the viewer's zone).
 */
export function accountRoutes(deps: AccountDeps): Router {
  const router = new Router();
  const form = formBody();
  const now = deps.currentDate ?? (() => new Date());
  const services = {
    elevations: new ElevationAdminService({
      db: deps.db,
      elevation: deps.elevation,
      currentDate: now,
    }),
    tickets: new TicketAdminService({ db: deps.db }),
    grants: new UserGrants(deps),
  };

  router.get(LOCAL_TIME_SCRIPT, localTimeScript);

  router.get('/account', pageHeaders({ scripts: true }), async (ctx) => {
    const me = await signedInUser(deps, ctx);
    if (!me) return redirectToLogin(ctx, '/account');
    ctx.body = render('account', {
      ...(await accountPage({ ...deps, ...services, now }, me.user, ctx.query.done)),
      csrf: deps.csrf.token(sessionBinding(me.session)),
    });
  });

  /** The signed-in user and the posted form, after the CSRF check; undefined once redirected to sign-in. */
  async function poster(ctx: Context) {
    const me = await signedInUser(deps, ctx);
    if (!me) return void redirectToLogin(ctx, '/account');
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!deps.csrf.verify(sessionBinding(me.session), body.csrf)) throw csrfRejected();
    return { me, body };
  }
  const back = (ctx: Context, done: string) => {
    ctx.status = 303;
    ctx.redirect(`/account?done=${done}#notice`);
  };

  router.post('/account/elevations/:id/drop', pageHeaders(), form, async (ctx) => {
    const p = await poster(ctx);
    if (!p) return;
    // As `DELETE /elevation/v1/elevations/:id`: only the elevation's own subject drops it.
    const id = ctx.params.id!;
    const row = ID.test(id) ? await deps.elevation.findElevation(id) : undefined;
    if (!row || row.subject !== p.me.user.id) throw notFound('elevation');
    const revoked = await deps.elevation.revoke(row.id, p.me.user.id);
    back(ctx, revoked ? 'dropped' : 'ended');
  });

  router.post('/account/tickets/:id/cancel', pageHeaders(), form, async (ctx) => {
    const p = await poster(ctx);
    if (!p) return;
    const id = ctx.params.id!;
    if (!ID.test(id)) throw notFound('request');
    try {
      await deps.elevation.cancel(id, p.me.user.id);
    } catch (err) {
      if (err instanceof ElevationError && err.code === 'ERR_TICKET_CLOSED')
        return back(ctx, 'closed');
      throw err;
    }
    back(ctx, 'cancelled');
  });

  // Client ids may be URLs (Client ID Metadata Documents), so the id travels in the form body.
  router.post('/account/agents/revoke', pageHeaders(), form, async (ctx) => {
    const p = await poster(ctx);
    if (!p) return;
    const client = p.body.client;
    if (typeof client !== 'string' || !client || client.length > 2048)
      throw invalid('Choose an agent to revoke.', { field: 'client' });
    await services.grants.revoke(p.me.user.id, client, p.me.user.id);
    back(ctx, 'revoked');
  });

  return router;
}
