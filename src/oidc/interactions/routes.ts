import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { UserRepository } from '../../accounts/users.ts';
import type { SignInService } from '../../accounts/sign-in.ts';
import type { Csrf } from '../../http/csrf.ts';
import { render } from '../../http/views.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { AppError, isAppError } from '../../errors.ts';
import { decideConsent, finishWithGrant, type ConsentDeps } from './consent.ts';
import { upstreamButtons } from '../../http/upstream-buttons.ts';
import { LOCAL_LOGIN_OFF, passwordForm } from './password-form.ts';
import { formBody } from '../../http/form-body.ts';

export interface InteractionDeps extends ConsentDeps {
  provider: Provider;
  users: UserRepository;
  /** The one sign-in service (shared with the approval pages). */
  signIn: SignInService;
  csrf: Csrf;
  audit: AuditLog;
  /** Upstream identity providers: a button each on the sign-in page. Default none. */
  upstreams?: ReadonlyArray<{ id: string; name: string }>;
  /** Clock of the waiting page's time left. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/**
 * Login and consent pages for oidc-provider's interactions. Every form carries a CSRF token bound
 * to the interaction uid; every value shown is escaped by the view engine.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, csrf } = deps;
  const router = new Router({ prefix: '/interaction' });
  const form = formBody();

  // Frame and content policy come from the security headers in front of every route.
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const client = await provider.Client.find(String(details.params.client_id));
    const clientName = client?.clientName ?? String(details.params.client_id);
    if (details.prompt.name === 'login') {
      ctx.body = render('login', {
        csrf: csrf.token(details.uid),
        clientName,
        reason: loginReason(details.prompt.reasons),
        upstreams: upstreamButtons(deps.upstreams ?? [], { interaction: details.uid }),
        ...passwordForm(deps, ctx.query, `/interaction/${details.uid}/login`),
      });
      return;
    }
    const view = await decideConsent(deps, details);
    if (view.kind === 'wait') return ctx.redirect(`/interaction/${details.uid}/wait`);
    if (view.kind === 'finish') {
      await provider.interactionFinished(ctx.req, ctx.res, view.result, {
        mergeWithLastSubmission: true,
      });
      return;
    }
    ctx.body = render('consent', {
      ...view.page,
      action: `/interaction/${details.uid}/confirm`,
      csrf: csrf.token(details.uid),
      clientName,
    });
  });

  router.post('/:uid/login', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrf.verify(details.uid, body.csrf))
      throw new AppError(
        'ERR_CSRF',
        'The form has expired or was not sent by this site. Go back and try again.',
      );
    const outcome = await deps.signIn.signIn({
      email: body.email,
      password: body.password,
      address: ctx.ip,
      action: 'login',
    });
    const page = (error: string) =>
      render('login', {
        csrf: csrf.token(details.uid),
        email: outcome.email,
        error,
        upstreams: upstreamButtons(deps.upstreams ?? [], { interaction: details.uid }),
        ...passwordForm(deps, ctx.query, ctx.path),
      });
    if (outcome.kind === 'throttled') {
      ctx.status = 429;
      ctx.set('Retry-After', String(outcome.retryAfter));
      ctx.body = page(
        `Too many failed sign-ins. Try again in ${Math.ceil(outcome.retryAfter / 60)} minute(s).`,
      );
      return;
    }
    if (outcome.kind === 'refused') {
      ctx.status = 401;
      ctx.body = page('Wrong email or password.');
      return;
    }
    if (outcome.kind === 'local-login-off') {
      ctx.status = 403;
      ctx.body = page(LOCAL_LOGIN_OFF);
      return;
    }
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: outcome.userId, amr: ['pwd'] } },
      { mergeWithLastSubmission: false },
    );
  });

  router.post('/:uid/confirm', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrf.verify(details.uid, body.csrf))
      throw new AppError(
        'ERR_CSRF',
        'The form has expired or was not sent by this site. Go back and try again.',
      );
    if (body.decision !== 'allow') {
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { error: 'access_denied', error_description: 'the user denied the request' },
        { mergeWithLastSubmission: true },
      );
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
      ctx.body = render('consent', {
        ...view.page,
        action: ctx.path,
        csrf: csrf.token(details.uid),
        clientName: client?.clientName ?? String(details.params.client_id),
      });
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, view.result, {
      mergeWithLastSubmission: true,
    });
  });

  // The browser waits here while approvers decide; the page refreshes itself without JavaScript.
  router.get('/:uid/wait', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const ticket = await deps.elevation.ticketByRef(details.uid);
    if (!ticket || ticket.subject !== details.session?.accountId)
      throw new AppError('ERR_NOT_FOUND', 'There is no approval request for this sign-in.');
    if (ticket.status === 'pending') {
      const left = Math.max(
        0,
        Math.round(
          (ticket.expires_at.getTime() - (deps.currentDate?.() ?? new Date()).getTime()) / 1000,
        ),
      );
      ctx.body = render('waiting', {
        ticketId: ticket.id,
        scopes: ticket.scopes,
        minutes: Math.floor(left / 60),
        seconds: left % 60,
        refresh: 3,
        cancelAction: `/interaction/${details.uid}/cancel`,
        csrf: csrf.token(details.uid),
      });
      return;
    }
    if (ticket.status === 'approved') {
      const requested = String(details.params.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const view = await finishWithGrant(deps, details, {
        accountId: ticket.subject,
        clientId: ticket.client_id,
        resource: ticket.resource,
        requested,
        elevationId: ticket.elevation_id,
      });
      if (view.kind === 'finish')
        await provider.interactionFinished(ctx.req, ctx.res, view.result, {
          mergeWithLastSubmission: true,
        });
      return;
    }
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: `the elevation request was ${ticket.status}` },
      { mergeWithLastSubmission: true },
    );
  });

  // The requester withdraws the pending ticket from the waiting page; the flow ends with
  // access_denied. A ticket decided meanwhile is left as it is and the waiting page shows it.
  router.post('/:uid/cancel', form, async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrf.verify(details.uid, body.csrf))
      throw new AppError(
        'ERR_CSRF',
        'The form has expired or was not sent by this site. Go back and try again.',
      );
    const ticket = await deps.elevation.ticketByRef(details.uid);
    const accountId = details.session?.accountId;
    if (!ticket || !accountId || ticket.subject !== accountId)
      throw new AppError('ERR_NOT_FOUND', 'There is no approval request for this sign-in.');
    if (ticket.status === 'pending') {
      try {
        await deps.elevation.cancel(ticket.id, accountId);
      } catch (err) {
        if (!isAppError(err, 'ERR_TICKET_CLOSED')) throw err;
      }
    }
    ctx.status = 303;
    ctx.redirect(`/interaction/${details.uid}/wait`);
  });

  return router;
}

function loginReason(reasons: string[]): string | undefined {
  if (reasons.includes('elevation_reauth'))
    return 'Approval-gated access needs a sign-in from the last 5 minutes. Please sign in again.';
  if (reasons.includes('max_age'))
    return 'Elevated access needs a recent sign-in. Please sign in again.';
  return undefined;
}
