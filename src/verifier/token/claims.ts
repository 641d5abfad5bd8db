import { errors, type JWTPayload } from 'jose';
import { InvalidTokenError, VerifierError } from '../errors.ts';
import type { VerifiedToken } from './types.ts';
import { sameResource } from '../../policy/resource-uri.ts';

/** The claims of a verified token, without the raw token: what the verified-token cache holds. */
export type CachedToken = Omit<VerifiedToken, 'token' | 'resource'>;

function stringArray(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new InvalidTokenError(`malformed ${claim} claim`);
  }
  return value as string[];
}

function optionalString(payload: JWTPayload, claim: string): string | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new InvalidTokenError(`malformed ${claim} claim`);
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * Checks the claims jose does not know about and maps them into a {@link CachedToken}.
 * Rules: `aud` is exactly our resource (a string, or a one-element array: a token meant for
 * several resources could be replayed by any of them); `client_id` is a non-empty string
 * (RFC 9068); `scope` is a string; `roles` an array of strings; `cnf`, when set, holds a non-empty `jkt` (DPoP, RFC 9449; other confirmation methods are refused).
 */
export function mapClaims(payload: JWTPayload, resource: string): CachedToken {
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (
    audiences.length !== 1 ||
    typeof audiences[0] !== 'string' ||
    !sameResource(audiences[0], resource)
  ) {
    throw new InvalidTokenError('token not issued for this resource');
  }
  const clientId = optionalString(payload, 'client_id');
  if (clientId === undefined) throw new InvalidTokenError('missing client_id claim');
  if (payload.scope !== undefined && typeof payload.scope !== 'string')
    throw new InvalidTokenError('malformed scope claim');
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  const cnf = payload.cnf;
  let jkt: string | undefined;
  if (cnf !== undefined) {
    const value =
      typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
    // A confirmation without a usable key thumbprint (another method, such as mTLS's x5t#S256,
    // or none) binds the token to something this verifier cannot check: never taken as unbound.
    if (typeof value !== 'string' || value === '')
      throw new InvalidTokenError('unsupported or malformed cnf claim');
    jkt = value;
  }
  const token: CachedToken = {
    clientId,
    scopes: [...new Set(scopes)],
    expiresAt: payload.exp as number,
    subject: optionalString(payload, 'sub'),
    roles: [...stringArray(payload.roles, 'roles')],
    elevation: optionalString(payload, 'elevation'),
    jkt,
    claims: payload,
  };
  // Cached entries are shared by every request presenting the same token.
  return deepFreeze(token);
}

/** Client-safe descriptions for jose's failures; anything else is simply "invalid token". */
export function toInvalidToken(error: unknown): VerifierError {
  if (error instanceof VerifierError) return error;
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return new InvalidTokenError(`missing ${error.claim} claim`);
    switch (error.claim) {
      case 'nbf':
        return new InvalidTokenError('token not yet valid');
      case 'iss':
        return new InvalidTokenError('unexpected issuer');
      case 'typ':
        return new InvalidTokenError('unexpected token type');
      default:
        return new InvalidTokenError(`invalid ${error.claim} claim`);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new InvalidTokenError('algorithm not allowed');
  }
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new InvalidTokenError('unknown signing key');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new InvalidTokenError('signature verification failed');
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid)
    return new InvalidTokenError('malformed token');
  // Hostile input can reach odd corners (key import, TypeErrors); it is still a bad token, never a 500.
  return new InvalidTokenError('invalid token', { cause: error });
}
