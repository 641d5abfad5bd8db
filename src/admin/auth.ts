import type { Context, Next } from 'koa';
import {
  BearerError,
  OwnTokenError,
  OwnTokenVerifier,
  bearerError,
  type BearerChallengeOptions,
} from '../tokens/index.ts';

/** The admin a request acts for, as routes and audit events see it. */
export interface AdminActor {
  /** The admin's user id (the token's `sub`); the audit `actor`. */
  userId: string;
  /** The OAuth client the admin used. */
  clientId?: string;
}

/** The scope and the role an admin token needs (ARCHITECTURE.md §8). */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_ROLE = 'admin';

/** Settings of {@link AdminAuthenticator}. */
export interface AdminAuthOptions {
  /** The admin API's resource identifier (`aud`, `<issuer>/admin`). */
  audience: string;
  /** Scopes every token carries; named in a 403 challenge with `mcp:admin` (ARCHITECTURE.md §5). Default `[]`. */
  baseScopes?: readonly string[];
  /** The server's one verifier of its own tokens. */
  tokens: OwnTokenVerifier;
}

/**
 * Authenticates admin API calls with the server's {@link OwnTokenVerifier}, requiring: the admin
 * resource as audience, scope `mcp:admin`, a user subject (not a client acting for itself) who
 * holds the `admin` role now, no DPoP binding (a proof cannot accompany a Bearer header), a live
 * grant and a live elevation — so revoking the elevation ends the token's admin access at once.
 * Failures map once: no credential → 401 with a bare challenge (RFC 6750 §3.1); a subject or scope
 * that is not enough → 403 `insufficient_scope`; anything else → 401 `invalid_token`.
 */
export class AdminAuthenticator {
  readonly #opts: AdminAuthOptions;
  readonly #challenge: BearerChallengeOptions;

  constructor(opts: AdminAuthOptions) {
    this.#opts = opts;
    this.#challenge = {
      realm: opts.audience,
      scope: [...new Set([...(opts.baseScopes ?? []), ADMIN_SCOPE])].join(' '),
      describe: (err) =>
        err.code === 'ERR_TOKEN_MISSING'
          ? 'an access token for the admin API is required'
          : err.claim === 'aud'
            ? 'the token is not for the admin API'
            : err.message,
    };
  }

  /** Koa middleware: sets `ctx.state.admin` or throws {@link BearerError} after setting its challenge header. */
  middleware() {
    return async (ctx: Context, next: Next) => {
      try {
        ctx.state.admin = await this.authenticate(ctx.get('authorization'));
      } catch (err) {
        if (err instanceof BearerError) ctx.set('WWW-Authenticate', err.challenge);
        throw err;
      }
      await next();
    };
  }

  /** The admin behind an `Authorization` header value. @throws {BearerError} */
  async authenticate(authorization: string | undefined): Promise<AdminActor> {
    try {
      const token = await this.#opts.tokens.verify(OwnTokenVerifier.bearer(authorization), {
        audience: this.#opts.audience,
        scope: ADMIN_SCOPE,
        subject: 'user',
        role: ADMIN_ROLE,
      });
      return { userId: token.subject, clientId: token.clientId };
    } catch (err) {
      if (err instanceof OwnTokenError) throw bearerError(err, this.#challenge);
      throw err;
    }
  }
}
