import Router from '@koa/router';
import type { Context } from 'koa';
import type { SetOption } from 'cookies';
import type Provider from 'oidc-provider';
import * as oidc from 'openid-client';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError, isAppError } from '../errors.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { safeNext, startSession } from '../web/session.ts';
import { pageHeaders } from '../web/page-headers.ts';
import type { Upstream } from './config.ts';
import type { FederationService } from './service.ts';
import type { FederationTransactions, ReturnTarget } from './transactions.ts';
import type { UpstreamClients } from './upstream-client.ts';

/** What the federation routes need from the composition root. */
export interface FederationRouteDeps {
  upstreams: readonly Upstream[];
  clients: UpstreamClients;
  transactions: FederationTransactions;
  service: FederationService;
  provider: Provider;
  audit: AuditLog;
  /** Clock of transaction expiry. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/** Cookie holding the key of the sign-in in flight (its transaction row). */
export const TRANSACTION_COOKIE = 'mcp_elevate_federation';
/** Cookie handing a finished federated sign-in to its authorization flow's interaction. */
export const HANDOVER_COOKIE = 'mcp_elevate_federated';

const UID = /^[\w-]{1,64}$/;

const stateError = () =>
  new AppError(
    'ERR_FEDERATION_STATE',
    'This sign-in response does not belong to a sign-in started in this browser, or it was ' +
      'already used or has expired. Go back to the sign-in page and start again.',
  );

function cookie(ctx: Context, path: string, maxAge: number): SetOption {
  // Lax: the upstream's redirect back is a top-level GET, which carries Lax cookies.
  return {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path,
    maxAge,
    secure: ctx.secure,
    overwrite: true,
  };
}

/**
 * Enterprise sign-in through upstream OpenID Providers (ARCHITECTURE.md §12):
 * - `GET /federation/<id>/start?interaction=<uid>` or `?next=<page>`: a transaction (state,
 *   nonce, PKCE verifier, where to return) is stored, its key set in a signed httpOnly cookie,
 *   and the browser sent to the upstream;
 * - `GET /federation/<id>/callback`: the transaction is consumed (single use), `state` and RFC
 *   9207 `iss` are checked, the code redeemed, the person signed in by {@link FederationService},
 *   then the web session starts (`fed`) or the interaction is handed the login;
 * - `GET /interaction/<uid>/federated`: finishes the interaction with `amr: ['fed']`, only in the
 *   browser holding both the interaction's cookie and the hand-over cookie of this sign-in.
 * Every callback outcome is audited (`federation.login`); tokens never are. Failures are pages:
 * 400 for a callback that is not ours, 403/409 for a refused person, 502/503 for the upstream.
 */
export function federationRoutes(deps: FederationRouteDeps): Router {
  const router = new Router();
  const now = deps.currentDate ?? (() => new Date());
  const byId = new Map(deps.upstreams.map((u) => [u.id, u]));
  const upstream = (id: string) => {
    const u = byId.get(id);
    if (!u) throw new AppError('ERR_NOT_FOUND', 'There is no sign-in provider by this name here.');
    return u;
  };

  const audited = async (ctx: Context, u: Upstream, step: () => Promise<void>) => {
    try {
      await step();
    } catch (err) {
      await deps.audit.append({
        action: 'federation.login',
        result: 'failure',
        data: {
          upstream: u.id,
          reason: isAppError(err) ? err.code : 'server_error',
          address: ctx.ip,
        },
      });
      throw err;
    }
  };

  router.get('/federation/:id/start', pageHeaders(), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const u = upstream(ctx.params.id!);
    await audited(ctx, u, () => start(ctx, u));
  });

  async function start(ctx: Context, u: Upstream): Promise<void> {
    const uid = ctx.query.interaction;
    let returnTo: ReturnTarget;
    if (uid !== undefined) {
      if (typeof uid !== 'string' || !UID.test(uid) || !(await deps.provider.Interaction.find(uid)))
        throw new AppError(
          'ERR_FEDERATION_STATE',
          'This sign-in request has expired. Go back to the application and start again.',
        );
      returnTo = { kind: 'interaction', uid };
    } else {
      returnTo = { kind: 'web', next: safeNext(ctx.query.next) };
    }
    const checks = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
    };
    const url = await deps.clients.authorizationUrl(u, checks);
    const ttl = DEFAULTS.federationTransactionTtlMs;
    const key = await deps.transactions.create({
      upstreamId: u.id,
      ...checks,
      returnTo,
      expiresAt: new Date(now().getTime() + ttl),
    });
    ctx.cookies.set(TRANSACTION_COOKIE, key, cookie(ctx, '/federation/', ttl));
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  router.get('/federation/:id/callback', pageHeaders(), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const u = upstream(ctx.params.id!);
    await audited(ctx, u, () => callback(ctx, u));
  });

  async function callback(ctx: Context, u: Upstream): Promise<void> {
    const key = ctx.cookies.get(TRANSACTION_COOKIE, { signed: true });
    ctx.cookies.set(TRANSACTION_COOKIE, null, cookie(ctx, '/federation/', 0));
    const tx = key && /^[\w-]{16,64}$/.test(key) ? await deps.transactions.consume(key) : undefined;
    if (!tx || tx.upstreamId !== u.id || ctx.query.state !== tx.state) throw stateError();
    const expected = await deps.clients.expectedIssuer(u);
    const iss = ctx.query.iss;
    // RFC 9207 §2.4: a present `iss` must be the upstream's; a promised one must be present.
    if (iss !== undefined ? iss !== expected.issuer : expected.required) throw stateError();
    if (ctx.query.error !== undefined)
      throw new AppError('ERR_UPSTREAM_DENIED', `${u.name} did not sign you in.`);
    // The URL the upstream redirected to, from ISSUER (never the request's Host).
    const current = new URL(`${deps.clients.redirectUri(u)}?${ctx.querystring}`);
    const claims = await deps.clients.finish(u, current, tx);
    const { userId, arrival } = await deps.service.signIn(u, expected.issuer, claims);
    await deps.audit.append({
      action: 'federation.login',
      result: 'success',
      actor: userId,
      subject: userId,
      data: { upstream: u.id, arrival, address: ctx.ip },
    });
    ctx.status = 303;
    if (tx.returnTo.kind === 'web') {
      startSession(ctx, userId, 'fed');
      ctx.redirect(safeNext(tx.returnTo.next));
      return;
    }
    const { uid } = tx.returnTo;
    const expires = now().getTime() + DEFAULTS.federationHandoverTtlMs;
    ctx.cookies.set(
      HANDOVER_COOKIE,
      `v1.${uid}.${userId}.${expires}`,
      cookie(ctx, `/interaction/${uid}`, DEFAULTS.federationHandoverTtlMs),
    );
    ctx.redirect(`/interaction/${uid}/federated`);
  }

  router.get('/interaction/:uid/federated', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // Throws oidc-provider's 400 when this browser does not hold the interaction.
    const details = await deps.provider.interactionDetails(ctx.req, ctx.res);
    const path = `/interaction/${details.uid}`;
    const raw = ctx.cookies.get(HANDOVER_COOKIE, { signed: true });
    ctx.cookies.set(HANDOVER_COOKIE, null, cookie(ctx, path, 0));
    const m = raw ? /^v1\.([\w-]{1,64})\.([\w-]{1,64})\.(\d{1,15})$/.exec(raw) : null;
    if (!m || m[1] !== details.uid || Number(m[3]) <= now().getTime()) throw stateError();
    await deps.provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: m[2]!, amr: ['fed'] } },
      { mergeWithLastSubmission: false },
    );
  });

  return router;
}
