import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { VerifiedToken } from '../verifier/token/types.ts';

/** Settings of {@link principalSigner}. */
export interface PrincipalSignerOptions {
  /** HS256 key shared with the upstream; at least 32 bytes. Required. */
  secret: string;
  /** `iss`: the gateway's public resource URL of this route. Required. */
  issuer: string;
  /** `aud`: the upstream's URL. Required. */
  audience: string;
  /** Lifetime in seconds. Default 60. */
  ttlSeconds?: number;
  /** Clock. Default `() => new Date()`. */
  currentDate?: () => Date;
}

/** `typ` of the principal JWT, so it cannot be mistaken for an access token. */
export const PRINCIPAL_JWT_TYPE = 'mcp-elevate-principal+jwt';

/**
 * Makes the principal header's value: a JWT (RFC 7519, HS256, `typ: mcp-elevate-principal+jwt`)
 * asserting who called, with claims `iss` (the gateway's resource URL), `aud` (the upstream URL),
 * `sub`, `client_id`, `roles`, `scope`, `elevation` (when elevated), `iat`, `exp` (`iat` +
 * `ttlSeconds`) and `jti`. It is not the caller's access token and grants nothing at the
 * authorization server: it only tells an upstream that trusts the key who the gateway let in.
 * @throws TypeError when the secret is shorter than 32 bytes.
 */
export function principalSigner(
  options: PrincipalSignerOptions,
): (auth: VerifiedToken) => Promise<string> {
  const key = new TextEncoder().encode(options.secret);
  if (key.length < 32) throw new TypeError('the principal header key must be at least 32 bytes');
  const ttl = options.ttlSeconds ?? 60;
  const now = options.currentDate ?? (() => new Date());
  return (auth) => {
    const iat = Math.floor(now().getTime() / 1000);
    return new SignJWT({
      client_id: auth.clientId,
      roles: [...auth.roles],
      scope: auth.scopes.join(' '),
      ...(auth.elevation !== undefined && { elevation: auth.elevation }),
    })
      .setProtectedHeader({ alg: 'HS256', typ: PRINCIPAL_JWT_TYPE })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(auth.subject ?? auth.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomUUID())
      .sign(key);
  };
}
