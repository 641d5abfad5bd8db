import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { UserRepository } from '../../accounts/users.ts';
import type { LoginLimiter } from '../../accounts/login-limiter.ts';
import { dummyHash, verifyPassword } from '../../accounts/password.ts';
import type { Csrf } from '../../http/csrf.ts';
import { render } from '../../http/views.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { AppError } from '../../errors.ts';
import { decideConsent, finishWithGrant, type ConsentDeps } from './consent.ts';
import { truncateCodePoints } from '../../http/text.ts';

export interface InteractionDeps extends ConsentDeps {
  provider: Provider;
  users: UserRepository;
  limiter: LoginLimiter;
  csrf: Csrf;
  audit: AuditLog;
}

/**
 * Login and consent pages for oidc-provider's interactions. Every form carries a CSRF token bound
 * to the interaction uid; every value shown is escaped by the view engine.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, csrf } = deps;
  const router = new Router({ prefix: '/interaction' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'");
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  });

  router.get('/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const client = await provider.Client.find(String(details.params.client_id));
    const clientName = client?.clientName ?? String(details.params.client_id);
    if (details.prompt.name === 'login') {
      ctx.body = render('login', { action: `/interaction/${details.uid}/login`, csrf: csrf.token(details.uid), clientName, reason: loginReason(details.prompt.reasons) });
      return;
    }
    const view = await decideConsent(deps, details);
    if (view.kind === 'wait') return ctx.redirect(`/interaction/${details.uid}/wait`);
    if (view.kind === 'finish') {
      await provider.interactionFinished(ctx.req, ctx.res, view.result, { mergeWithLastSubmission: true });
      return;
    }
    ctx.body = render('consent', { ...view.page, action: `/interaction/${details.uid}/confirm`, csrf: csrf.token(details.uid), clientName });
  });

  router.post('/:uid/login', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrf.verify(details.uid, body.csrf)) throw new AppError('ERR_CSRF', 403, 'The form has expired or was not sent by this site. Go back and try again.');
    const email = typeof body.email === 'string' ? truncateCodePoints(body.email, 320) : '';
    const password = typeof body.password === 'string' ? truncateCodePoints(body.password, 1024) : '';
    const page = (error: string) => render('login', { action: ctx.path, csrf: csrf.token(details.uid), email, error });

    const wait = deps.limiter.retryAfter(email, ctx.ip);
    if (wait > 0) {
      ctx.status = 429;
      ctx.set('Retry-After', String(wait));
      ctx.body = page(`Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute(s).`);
      return;
    }
    const row = email ? await deps.users.findCredentials(email) : undefined;
    // Unknown accounts cost a hash check too, so timing does not reveal which emails exist.
    const ok = await verifyPassword(password, row?.password_hash ?? await dummyHash());
    if (!row || !ok || row.disabled) {
      deps.limiter.fail(email, ctx.ip);
      await deps.audit.append({ action: 'login', result: 'failure', actor: row?.id ?? null, data: { email, address: ctx.ip } });
      ctx.status = 401;
      ctx.body = page('Wrong email or password.');
      return;
    }
    deps.limiter.succeed(email);
    await deps.audit.append({ action: 'login', result: 'success', actor: row.id, subject: row.id, data: { address: ctx.ip } });
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: row.id, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
  });

  router.post('/:uid/confirm', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrf.verify(details.uid, body.csrf)) throw new AppError('ERR_CSRF', 403, 'The form has expired or was not sent by this site. Go back and try again.');
    if (body.decision !== 'allow') {
      await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user denied the request' }, { mergeWithLastSubmission: true });
      return;
    }
    // Not cut here: a justification that is too long is refused with the form shown again.
    const justification = typeof body.justification === 'string' ? body.justification : undefined;
    const view = await decideConsent(deps, details, { confirmed: true, justification });
    if (view.kind === 'wait') {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${details.uid}/wait`);
    }
    if (view.kind === 'page') {
      const client = await provider.Client.find(String(details.params.client_id));
      ctx.status = 400;
      ctx.body = render('consent', { ...view.page, action: ctx.path, csrf: csrf.token(details.uid), clientName: client?.clientName ?? String(details.params.client_id) });
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, view.result, { mergeWithLastSubmission: true });
  });

  // The browser waits here while approvers decide; the page refreshes itself without JavaScript.
  router.get('/:uid/wait', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const ticket = await deps.elevation.ticketByRef(details.uid);
    if (!ticket || ticket.subject !== details.session?.accountId) throw new AppError('ERR_NOT_FOUND', 404, 'There is no approval request for this sign-in.');
    if (ticket.status === 'pending') {
      const left = Math.max(0, Math.round((ticket.expires_at.getTime() - Date.now()) / 1000));
      ctx.body = render('waiting', { ticketId: ticket.id, scopes: ticket.scopes, minutes: Math.floor(left / 60), seconds: left % 60, refresh: 3 });
      return;
    }
    if (ticket.status === 'approved') {
      const requested = String(details.params.scope ?? '').split(' ').filter(Boolean);
      const view = await finishWithGrant(deps, details, { accountId: ticket.subject, clientId: ticket.client_id, resource: ticket.resource, requested, elevationId: ticket.elevation_id });
      if (view.kind === 'finish') await provider.interactionFinished(ctx.req, ctx.res, view.result, { mergeWithLastSubmission: true });
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: `the elevation request was ${ticket.status}` }, { mergeWithLastSubmission: true });
  });

  return router;
}

function loginReason(reasons: string[]): string | undefined {
  if (reasons.includes('elevation_reauth')) return 'Approval-gated access needs a sign-in from the last 5 minutes. Please sign in again.';
  if (reasons.includes('max_age')) return 'Elevated access needs a recent sign-in. Please sign in again.';
  return undefined;
}
