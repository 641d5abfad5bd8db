import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { PrivateJwk } from '../keys/keystore.ts';
import { publicJwks } from '../keys/public.ts';
import { AppError } from '../errors.ts';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Verifies access tokens this server issued, in-process against its own public keys: ES256,
 * `typ: at+jwt`, our issuer, and (when given) the audience. Used by the server's own protected
 * endpoints (audit ingest, elevation drop) — the admin API has its own, richer authenticator.
 */
export function ownTokenVerifier(issuer: string, signingKeys: PrivateJwk[]) {
  const jwks = createLocalJWKSet(publicJwks(signingKeys));
  return async (authorization: string | undefined, opts: { audience?: string; scope?: string } = {}): Promise<JWTPayload> => {
    const m = BEARER.exec(authorization ?? '');
    if (!m) throw new AppError('unauthorized', 401, 'a bearer access token from this server is required');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1]!, jwks, { issuer, typ: 'at+jwt', algorithms: ['ES256'], audience: opts.audience }));
    } catch {
      throw new AppError('invalid_token', 401, 'the access token is invalid, expired or not for this endpoint');
    }
    if (opts.scope && !String(payload.scope ?? '').split(' ').includes(opts.scope)) {
      throw new AppError('insufficient_scope', 403, `the access token lacks scope ${opts.scope}`);
    }
    return payload;
  };
}
