import { randomBytes, createHash } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { ADMIN_ROLE, ADMIN_SCOPE } from '../../admin/index.ts';
import { adminResource } from '../../oidc/resources.ts';
import { AppError } from '../../errors.ts';
import { BearerError } from '../../tokens/index.ts';
import { render } from '../../http/views.ts';
import { DEFAULTS } from '../../config/defaults.ts';
import { safeNext } from '../session.ts';
import { csrfRejected, redirectToLogin, sessionBinding, signedInUser } from '../sign-in.ts';
import { CONSOLE_CLIENT_ID, consoleRedirectUri, ensureConsoleClient } from './client.ts';
import type { ConsoleDeps, ConsoleState } from './deps.ts';
import { CookieVault } from './vault.ts';

const TOKEN_COOKIE = 'mcp_elevate_console';
const FLOW_COOKIE = 'mcp_elevate_console_flow';
/** An authorization request may wait this long for approvers (the interaction's own lifetime). */
const FLOW_MAX_AGE_S = DEFAULTS.interactionTtlSeconds;

/** The console's own pages back from a sign-in or flow: under /console, else the console's start. */
const consoleNext = (next: unknown) => {
  const path = safeNext(next);
  return path === '/console' || path.startsWith('/console/') ? path : '/console';
};

/** The 403 page: no data of the console, only why and what to do. */
function refuse(ctx: Context, message: string): void {
  ctx.status = 403;
  ctx.body = render('console-refused', { title: 'Not allowed', message });
}

const NOT_ADMIN =
  'The admin console is for people who hold the admin role. Ask an administrator if you need it.';

/**
 * The console's access (ARCHITECTURE.md §13). The console holds no rule of its own: it is a
 * first-party OAuth client that obtains an admin API token through this server's own
 * authorization endpoint (sign-in, consent, step-up and approval as for any `mcp:admin` request),
 * keeps it sealed in an httpOnly cookie at `/console` bound to the web session, and on every
 * request has the admin API's {@link AdminAuthenticator} check it. Rules enforced:
 * - no web session → the site's sign-in page, then back;
 * - a person who does not hold the admin role → 403 page (the flow could not succeed);
 * - no token, a token of another session or person, or one the authenticator refuses as invalid
 *   (expired, elevation revoked or ended) → the authorization flow again;
 * - a token refused as not enough (role taken away) → 403 page;
 * - the token's subject must be the signed-in person: signing in as someone else on the way is
 *   refused;
 * - every form post needs this web session's CSRF token (403 otherwise).
 */
export class ConsoleAccess {
  readonly #deps: ConsoleDeps;
  readonly #vault: CookieVault;

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
    this.#vault = new CookieVault(deps.cookieKey);
  }

  /** `GET /console/login` (starts the flow) and `GET /console/callback` (ends it). */
  register(router: Router): void {
    router.get('/login', (ctx) => this.#start(ctx));
    router.get('/callback', (ctx) => this.#callback(ctx));
  }

  /** Middleware of every console page: sets `ctx.state.console` ({@link ConsoleState}) or answers. */
  gate(): Middleware {
    return async (ctx, next) => {
      const me = await signedInUser(this.#deps, ctx);
      // A form post comes back to its area's page: the post itself cannot be replayed.
      const page =
        ctx.method === 'GET' ? ctx.originalUrl : ctx.path.split('/').slice(0, 3).join('/');
      if (!me) return redirectToLogin(ctx, consoleNext(page));
      if (!(await this.#deps.roles.effectiveForUser(me.user.id)).includes(ADMIN_ROLE))
        return refuse(ctx, NOT_ADMIN);
      const sealed = await this.#vault.get(ctx, TOKEN_COOKIE);
      const token =
        sealed && sealed.sid === me.session.sid && sealed.sub === me.user.id
          ? String(sealed.at)
          : undefined;
      if (!token) return this.#again(ctx, page);
      try {
        const actor = await this.#deps.authenticator.authenticate(`Bearer ${token}`);
        if (actor.userId !== me.user.id) return this.#again(ctx, page);
        const state: ConsoleState = {
          me,
          actor,
          csrf: this.#deps.csrf.token(sessionBinding(me.session)),
        };
        ctx.state.console = state;
      } catch (err) {
        if (!(err instanceof BearerError)) throw err;
        this.#vault.clear(ctx, TOKEN_COOKIE);
        if (err.code === 'ERR_INSUFFICIENT_SCOPE') return refuse(ctx, NOT_ADMIN);
        return this.#again(ctx, page);
      }
      if (ctx.method === 'POST') {
        const body = (ctx.request.body ?? {}) as Record<string, unknown>;
        if (!this.#deps.csrf.verify(sessionBinding(me.session), body.csrf)) throw csrfRejected();
      }
      await next();
    };
  }

  /** Back through the authorization flow, returning to `page`. */
  #again(ctx: Context, page: string): void {
    this.#vault.clear(ctx, TOKEN_COOKIE);
    ctx.status = 303;
    ctx.redirect(`/console/login?next=${encodeURIComponent(consoleNext(page))}`);
  }

  async #start(ctx: Context): Promise<void> {
    const next = consoleNext(ctx.query.next);
    const me = await signedInUser(this.#deps, ctx);
    if (!me) return redirectToLogin(ctx, next);
    if (!(await this.#deps.roles.effectiveForUser(me.user.id)).includes(ADMIN_ROLE))
      return refuse(ctx, NOT_ADMIN);
    const { issuer } = this.#deps;
    await ensureConsoleClient(this.#deps.provider, this.#deps.db, issuer);
    const state = randomBytes(18).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    await this.#vault.set(
      ctx,
      FLOW_COOKIE,
      { state, verifier, sid: me.session.sid, next },
      FLOW_MAX_AGE_S,
    );
    const url = new URL(`${issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      redirect_uri: consoleRedirectUri(issuer),
      scope: ADMIN_SCOPE,
      resource: adminResource(issuer),
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  async #callback(ctx: Context): Promise<void> {
    const me = await signedInUser(this.#deps, ctx);
    if (!me) return redirectToLogin(ctx, '/console');
    const flow = await this.#vault.get(ctx, FLOW_COOKIE);
    this.#vault.clear(ctx, FLOW_COOKIE);
    // No open request of this session with this state: a stale or foreign redirect; nothing is used.
    if (!flow || flow.sid !== me.session.sid || flow.state !== ctx.query.state)
      throw new AppError(
        'ERR_CSRF',
        'This sign-in to the console expired or was not started here. Open the console again.',
      );
    if (typeof ctx.query.error === 'string') {
      const why =
        typeof ctx.query.error_description === 'string' ? ctx.query.error_description : '';
      return refuse(
        ctx,
        `The console needs the ${ADMIN_SCOPE} elevation, which was not granted${why ? `: ${why.slice(0, 300)}` : '.'}`,
      );
    }
    const token = await this.#exchange(String(ctx.query.code ?? ''), String(flow.verifier));
    if (!token) throw new AppError('ERR_INVALID_TOKEN', 'The console could not obtain its token.');
    let actor;
    try {
      actor = await this.#deps.authenticator.authenticate(`Bearer ${token.accessToken}`);
    } catch (err) {
      if (err instanceof BearerError) return refuse(ctx, NOT_ADMIN);
      throw err;
    }
    if (actor.userId !== me.user.id)
      return refuse(
        ctx,
        'You signed in to the authorization server as someone else than the person signed in here. Sign out and use one account.',
      );
    await this.#vault.set(
      ctx,
      TOKEN_COOKIE,
      { sid: me.session.sid, sub: me.user.id, at: token.accessToken },
      token.expiresIn,
    );
    ctx.status = 303;
    ctx.redirect(consoleNext(flow.next));
  }

  /** The token request of the authorization code grant (RFC 6749 §4.1.3, PKCE RFC 7636, RFC 8707). */
  async #exchange(
    code: string,
    verifier: string,
  ): Promise<{ accessToken: string; expiresIn: number } | undefined> {
    const { issuer } = this.#deps;
    const send = this.#deps.fetch ?? fetch;
    const res = await send(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: consoleRedirectUri(issuer),
        client_id: CONSOLE_CLIENT_ID,
        code_verifier: verifier,
        resource: adminResource(issuer),
      }),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== 'string') return undefined;
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 300;
    return { accessToken: body.access_token, expiresIn: Math.max(1, Math.min(expiresIn, 86_400)) };
  }
}
