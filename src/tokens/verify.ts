import { errors as jose, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { PrivateJwk } from '../keys/keystore.ts';
import { OwnTokenError } from './errors.ts';
import { OwnKeys, type LoadedKeys } from './keys.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** What the verifier reads about a token's subject, grant and elevation, at each call. */
export interface OwnTokenLookups {
  findUser(id: string): Promise<{ disabled: boolean } | undefined>;
  /** The user's role names, inherited ones included. */
  effectiveRoles(userId: string): Promise<string[]>;
  clientExists(clientId: string): Promise<boolean>;
  /** The oidc-provider Grant `grantId` while it is stored and not expired. */
  findGrant(grantId: string): Promise<{ accountId?: string; clientId?: string } | undefined>;
  findElevation(
    id: string,
  ): Promise<
    | { subject: string; client_id: string; revoked_at: Date | null; expires_at: Date | null }
    | undefined
  >;
}

/** Settings of {@link OwnTokenVerifier}. */
export interface OwnTokenVerifierOptions {
  /** This server's issuer (`iss`). */
  issuer: string;
  /** The published signing keys, current and retiring. */
  loadKeys: () => Promise<PrivateJwk[]>;
  lookups: OwnTokenLookups;
  /** True for the catalogue's elevated scopes (those with `minRole`). */
  isElevatedScope: (scope: string) => boolean;
  /** Least time between two key reloads caused by an unknown `kid`. Default 30 000 ms. */
  reloadIntervalMs?: number;
  /** Clock. Default `() => new Date()`. */
  currentDate?: () => Date;
  /** Tokens whose signature is remembered (until they expire). Default 10 000. */
  signatureCacheSize?: number;
}

/** What a consumer requires of a token, beyond the rules every token must pass. */
export interface OwnTokenRequirements {
  /** The resource the token must be for (`aud`), or a test of it. Required. */
  audience: string | ((aud: string) => boolean);
  /** A scope the token must carry. Default: none. */
  scope?: string;
  /** Who the token must act for. Default `'any'`. */
  subject?: 'user' | 'client' | 'any';
  /** A role the user must hold now (read from the database, not from the token). Default: none. */
  role?: string;
  /** The client the token must have been issued to. Default: any. */
  clientId?: string;
  /**
   * DPoP-bound tokens (`cnf`) are refused by default: a consumer reading a Bearer header cannot
   * check a proof. `true` accepts them where the token is a hint, not a credential (CIBA).
   */
  allowSenderConstrained?: boolean;
}

/** A token that passed every rule. */
export interface OwnToken {
  payload: JWTPayload;
  /** `sub`: a user id, or the client id when the client acts for itself. */
  subject: string;
  clientId: string;
  kind: 'user' | 'client';
  scopes: string[];
  /** The oidc-provider grant the token was minted under (absent for client_credentials). */
  grantId?: string;
  /** The elevation id of an elevated token. */
  elevation?: string;
}

type Signed = JWTPayload & { exp: number; sub: string; client_id: string };
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The one verifier of this server's own access tokens (ARCHITECTURE.md §8 Trust boundaries), used by the
 * admin API, CIBA's `login_hint_token`, the elevation routes and audit ingest. Rules, in order:
 * 1. signature by one of the server's published keys (current or retiring), ES256 only; an
 *    unknown `kid` reloads the keys at most once per `reloadIntervalMs`;
 * 2. `typ: at+jwt` (RFC 9068), `iss` = this issuer, `exp` in the future by the injected clock,
 *    `sub` and `client_id` present, `aud` = the consumer's resource, issued to the required client,
 *    not DPoP-bound unless the consumer allows it;
 * 3. the required scope is carried;
 * 4. the subject is what the consumer needs (user or client), still exists, is not disabled and
 *    holds the required role now;
 * 5. a user's token names its grant (`grant_id`), which must still be stored for the same user
 *    and client: revoking the grant (e.g. refresh token revocation) kills every token of it;
 * 6. a token with an elevated scope names its elevation, which must be of the same subject and
 *    client and neither revoked nor expired.
 * Only step 1 is remembered between calls (per token, until it expires); steps 2–6 run on every
 * call, so a revocation takes effect at once.
 * @throws {OwnTokenError}
 */
export class OwnTokenVerifier {
  readonly #opts: OwnTokenVerifierOptions;
  readonly #keys: OwnKeys;
  readonly #signed: LRUCache<string, Signed>;

  constructor(opts: OwnTokenVerifierOptions) {
    this.#opts = opts;
    this.#keys = new OwnKeys(opts.loadKeys);
    this.#signed = new LRUCache({
      max: opts.signatureCacheSize ?? DEFAULTS.ownTokenSignatureCacheSize,
    });
  }

  /** The token of an `Authorization: Bearer` header value. @throws {OwnTokenError} `ERR_TOKEN_MISSING`, `ERR_JWT_INVALID` */
  static bearer(authorization: string | undefined): string {
    if (!authorization || !/^bearer(\s|$)/i.test(authorization)) {
      throw new OwnTokenError(
        'ERR_TOKEN_MISSING',
        'a bearer access token from this server is required',
      );
    }
    const match = BEARER.exec(authorization);
    if (!match)
      throw new OwnTokenError(
        'ERR_JWT_INVALID',
        'the Authorization header is not a well-formed bearer token',
      );
    return match[1]!;
  }

  /** Verifies `token` against every rule above and `req`. @throws {OwnTokenError} */
  async verify(token: string, req: OwnTokenRequirements): Promise<OwnToken> {
    const now = this.#opts.currentDate?.() ?? new Date();
    const p = await this.#signature(token, now);
    if (p.exp * 1000 <= now.getTime())
      throw new OwnTokenError('ERR_JWT_EXPIRED', 'the token has expired', 'exp');
    const audiences = Array.isArray(p.aud) ? p.aud : typeof p.aud === 'string' ? [p.aud] : [];
    const wanted = req.audience;
    if (
      audiences.length !== 1 ||
      !(typeof wanted === 'string' ? audiences[0] === wanted : wanted(audiences[0]!))
    ) {
      throw claim('aud', 'the token is not for this resource');
    }
    if (req.clientId !== undefined && p.client_id !== req.clientId)
      throw claim('client_id', 'the token was issued to another client');
    if (p.cnf !== undefined && !req.allowSenderConstrained)
      throw claim('cnf', 'sender-constrained (DPoP) tokens are not accepted here');
    const scopes = typeof p.scope === 'string' ? p.scope.split(' ').filter(Boolean) : [];
    if (req.scope && !scopes.includes(req.scope))
      throw new OwnTokenError('ERR_SCOPE_MISSING', `the token lacks the ${req.scope} scope`);

    const kind = p.sub === p.client_id ? 'client' : 'user';
    const subject = req.subject ?? 'any';
    if (subject !== 'any' && subject !== kind) {
      throw new OwnTokenError(
        'ERR_SUBJECT_KIND',
        kind === 'client'
          ? 'the token does not act for a user'
          : 'the token does not act for a client',
      );
    }
    const grantId = typeof p.grant_id === 'string' ? p.grant_id : undefined;
    const elevation = typeof p.elevation === 'string' ? p.elevation : undefined;

    const l = this.#opts.lookups;
    // Independent reads, in parallel; judged in the order of the rules.
    const [user, clientExists, roles, grant, row] = await Promise.all([
      kind === 'user' ? l.findUser(p.sub) : undefined,
      kind === 'client' ? l.clientExists(p.sub) : undefined,
      kind === 'user' && req.role ? l.effectiveRoles(p.sub) : undefined,
      grantId ? l.findGrant(grantId) : undefined,
      elevation ? l.findElevation(elevation) : undefined,
    ]);
    if (kind === 'user' && (!user || user.disabled))
      throw new OwnTokenError(
        user ? 'ERR_SUBJECT_DISABLED' : 'ERR_SUBJECT_UNKNOWN',
        'the user is unknown or disabled',
      );
    if (kind === 'client' && !clientExists)
      throw new OwnTokenError('ERR_SUBJECT_UNKNOWN', 'the client is no longer registered');
    if (req.role && (kind !== 'user' || !roles!.includes(req.role)))
      throw new OwnTokenError('ERR_ROLE_MISSING', `the user does not hold the ${req.role} role`);
    if (kind === 'user' && !grantId)
      throw claim('grant_id', 'the token names no grant of this server');
    if (!elevation && scopes.some(this.#opts.isElevatedScope))
      throw claim('elevation', 'the token carries an elevated scope without its elevation');
    if (grantId && (!grant || grant.accountId !== p.sub || grant.clientId !== p.client_id)) {
      throw new OwnTokenError('ERR_GRANT_REVOKED', 'the grant of this token has been revoked');
    }
    if (elevation) {
      if (!row || row.subject !== p.sub || row.client_id !== p.client_id || row.revoked_at) {
        throw new OwnTokenError(
          'ERR_ELEVATION_REVOKED',
          'the elevation of this token has been revoked',
        );
      }
      if (row.expires_at && row.expires_at.getTime() <= now.getTime())
        throw new OwnTokenError('ERR_ELEVATION_EXPIRED', 'the elevation of this token has expired');
    }
    return {
      payload: p,
      subject: p.sub,
      clientId: p.client_id,
      kind,
      scopes,
      ...(grantId ? { grantId } : {}),
      ...(elevation ? { elevation } : {}),
    };
  }

  // Rule 1 and the claims every token has; the result is remembered per token until it expires.
  async #signature(token: string, now: Date): Promise<Signed> {
    const hit = this.#signed.get(token);
    if (hit) return hit;
    const verify = async (keys: LoadedKeys) =>
      (
        await jwtVerify(token, keys.get, {
          issuer: this.#opts.issuer,
          typ: 'at+jwt',
          algorithms: ['ES256'],
          currentDate: now,
          requiredClaims: ['exp', 'sub', 'client_id'],
        })
      ).payload as Signed;
    let keys = await this.#keys.get();
    let payload: Signed;
    try {
      payload = await verify(keys);
    } catch (err) {
      const interval = this.#opts.reloadIntervalMs ?? DEFAULTS.ownTokenKeyReloadMs;
      if (!(err instanceof jose.JWKSNoMatchingKey) || Date.now() - keys.at < interval)
        throw translate(err);
      keys = await this.#keys.get(true);
      try {
        payload = await verify(keys);
      } catch (again) {
        throw translate(again);
      }
    }
    if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string')
      throw claim('sub', 'the token names no subject or client');
    const ttl = payload.exp * 1000 - now.getTime();
    if (ttl > 0) this.#signed.set(token, Object.freeze(payload), { ttl });
    return payload;
  }
}

function claim(name: string, message: string): OwnTokenError {
  return new OwnTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED', message, name);
}

/** jose's failures as fixed, safe descriptions; anything else (a bug, a key load failure) rethrown. */
function translate(err: unknown): OwnTokenError {
  if (err instanceof jose.JWTExpired)
    return new OwnTokenError('ERR_JWT_EXPIRED', 'the token has expired', 'exp');
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return claim('iss', 'the token was not issued by this server');
    if (err.claim === 'typ') return claim('typ', 'the token is not an access token (typ at+jwt)');
    return claim(err.claim, `the token's ${err.claim} claim is not valid`);
  }
  if (err instanceof jose.JWKSNoMatchingKey)
    return new OwnTokenError(
      'ERR_JWKS_NO_MATCHING_KEY',
      'the token was not signed by a key of this server',
    );
  if (err instanceof jose.JWSSignatureVerificationFailed)
    return new OwnTokenError(
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'the token signature is not valid',
    );
  if (err instanceof jose.JOSEError)
    return new OwnTokenError('ERR_JWT_INVALID', 'the token could not be verified');
  throw err;
}
