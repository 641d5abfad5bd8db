import type { Context, Next } from 'koa';
import { createLocalJWKSet, errors as jose, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors.ts';
import { quoteHeaderValue } from '../verifier/http/challenge.ts';
import type { User } from '../accounts/users.ts';
import type { PrivateJwk } from '../keys/keystore.ts';
import { publicJwks } from '../keys/public.ts';

/** The admin a request acts for, as routes and audit events see it. */
export interface AdminActor {
  /** The admin's user id (the token's `sub`); the audit `actor`. */
  userId: string;
  /** The OAuth client the admin used. */
  clientId?: string;
}

/** The scope and the role an admin token needs (DESIGN §8). */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_ROLE = 'admin';

type Kind = 'missing' | 'invalid_token' | 'insufficient_scope';

/** An authentication failure; `challenge` is the `WWW-Authenticate` value to send with it. */
export class AdminAuthError extends AppError {
  readonly challenge: string;

  constructor(kind: Kind, description: string, challenge: string) {
    const status = kind === 'insufficient_scope' ? 403 : 401;
    super(kind === 'missing' ? 'unauthorized' : kind, status, description);
    this.challenge = challenge;
  }
}

/** Settings of {@link AdminAuthenticator}. */
export interface AdminAuthOptions {
  /** This server's issuer; tokens must come from it and be for `<issuer>/admin`. */
  issuer: string;
  /** The admin API's resource identifier (`aud`). */
  audience: string;
  /** Scopes every token carries; named in a 403 challenge with `mcp:admin` (DESIGN §5). Default `[]`. */
  baseScopes?: readonly string[];
  /** This server's signing keys (only their public halves are used). */
  loadKeys: () => Promise<PrivateJwk[]>;
  findUser: (id: string) => Promise<User | undefined>;
  effectiveRoles: (userId: string) => Promise<string[]>;
  /** Least time between two key reloads caused by an unknown `kid`. Default 30 000 ms. */
  reloadIntervalMs?: number;
  /** Clock. Default `() => new Date()`. */
  currentDate?: () => Date;
}

interface KeySet {
  get: ReturnType<typeof createLocalJWKSet>;
  at: number;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Authenticates admin API calls in-process against this server's own public keys. Rules, in order:
 * - `Authorization: Bearer <token>` present, else 401 with a bare challenge (RFC 6750 §3.1);
 * - the token is an ES256 JWT with `typ: at+jwt`, from this issuer, for the admin resource, not
 *   expired, and not sender-constrained (a DPoP proof cannot accompany a Bearer header), else 401
 *   `invalid_token`;
 * - its scope holds `mcp:admin`, its subject is a user (not a client acting for itself) who exists,
 *   is not disabled and — read from the database now, not from the token's `roles` — holds the
 *   `admin` role directly or by inheritance, else 403 `insufficient_scope`.
 * An unknown `kid` reloads the keys (another instance may have rotated them), at most once per
 * {@link AdminAuthOptions.reloadIntervalMs}.
 */
export class AdminAuthenticator {
  readonly #opts: AdminAuthOptions;
  readonly #realm: string;
  #keys?: Promise<KeySet>;

  constructor(opts: AdminAuthOptions) {
    this.#opts = opts;
    this.#realm = `realm=${quoteHeaderValue(opts.audience)}`;
  }

  /** Koa middleware: sets `ctx.state.admin` or throws {@link AdminAuthError} after setting its challenge header. */
  middleware() {
    return async (ctx: Context, next: Next) => {
      try {
        ctx.state.admin = await this.authenticate(ctx.get('authorization'));
      } catch (err) {
        if (err instanceof AdminAuthError) ctx.set('WWW-Authenticate', err.challenge);
        throw err;
      }
      await next();
    };
  }

  /** The admin behind an `Authorization` header value. @throws {AdminAuthError} */
  async authenticate(authorization: string | undefined): Promise<AdminActor> {
    if (!authorization || !/^bearer(\s|$)/i.test(authorization)) {
      throw new AdminAuthError('missing', 'an access token for the admin API is required', `Bearer ${this.#realm}`);
    }
    const match = BEARER.exec(authorization);
    if (!match) throw this.#invalid('the Authorization header is not a well-formed bearer token');
    const payload = await this.#verify(match[1]!);
    if (payload.cnf !== undefined) throw this.#invalid('sender-constrained (DPoP) tokens are not accepted by the admin API');

    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(ADMIN_SCOPE)) throw this.#forbidden(`the token lacks the ${ADMIN_SCOPE} scope`);
    const sub = payload.sub;
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
    // A client_credentials token's subject is the client itself: admins are people.
    if (!sub || sub === clientId) throw this.#forbidden('the token does not act for a user');
    const user = await this.#opts.findUser(sub);
    if (!user || user.disabled) throw this.#forbidden('the user is unknown or disabled');
    if (!(await this.#opts.effectiveRoles(sub)).includes(ADMIN_ROLE)) throw this.#forbidden(`the user does not hold the ${ADMIN_ROLE} role`);
    return { userId: sub, ...(clientId ? { clientId } : {}) };
  }

  async #verify(token: string): Promise<JWTPayload> {
    const verify = async (keys: KeySet) => (await jwtVerify(token, keys.get, {
      issuer: this.#opts.issuer,
      audience: this.#opts.audience,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      currentDate: this.#opts.currentDate?.(),
    })).payload;
    let keys = await this.#keySet(false);
    try {
      return await verify(keys);
    } catch (err) {
      if (!(err instanceof jose.JOSEError)) throw err;
      const interval = this.#opts.reloadIntervalMs ?? 30_000;
      if (!(err instanceof jose.JWKSNoMatchingKey) || Date.now() - keys.at < interval) throw this.#invalid(describe(err));
      keys = await this.#keySet(true);
      try {
        return await verify(keys);
      } catch (again) {
        if (again instanceof jose.JOSEError) throw this.#invalid(describe(again));
        throw again;
      }
    }
  }

  // Single flight: concurrent requests share one load; a failed load is not kept.
  #keySet(reload: boolean): Promise<KeySet> {
    if (!this.#keys || reload) {
      const loading = this.#opts.loadKeys().then((keys) => ({ get: createLocalJWKSet(publicJwks(keys)), at: Date.now() }));
      loading.catch(() => { if (this.#keys === loading) this.#keys = undefined; });
      this.#keys = loading;
    }
    return this.#keys;
  }

  #invalid(description: string): AdminAuthError {
    return new AdminAuthError('invalid_token', description,
      `Bearer ${this.#realm}, error="invalid_token", error_description=${quoteHeaderValue(description)}`);
  }

  #forbidden(description: string): AdminAuthError {
    const scope = [...new Set([...(this.#opts.baseScopes ?? []), ADMIN_SCOPE])].join(' ');
    return new AdminAuthError('insufficient_scope', description,
      `Bearer ${this.#realm}, error="insufficient_scope", error_description=${quoteHeaderValue(description)}, scope=${quoteHeaderValue(scope)}`);
  }
}

/** A fixed, safe description per failure; jose's own messages are not passed on. */
function describe(err: InstanceType<typeof jose.JOSEError>): string {
  if (err instanceof jose.JWTExpired) return 'the token has expired';
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'the token is not for the admin API';
    if (err.claim === 'iss') return 'the token was not issued by this server';
    if (err.claim === 'typ') return 'the token is not an access token (typ at+jwt)';
    return `the token's ${err.claim} claim is not valid`;
  }
  if (err instanceof jose.JWKSNoMatchingKey) return 'the token was not signed by a key of this server';
  return 'the token could not be verified';
}
