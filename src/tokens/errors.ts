/**
 * Why a token of this server was refused. Codes follow jose's (`ERR_JWT_EXPIRED`,
 * `ERR_JWT_CLAIM_VALIDATION_FAILED`, …) where jose has one; the rest name the liveness rule that
 * failed. No HTTP status here: each edge maps codes to its own protocol once.
 */
export type OwnTokenErrorCode =
  /** No `Authorization: Bearer` credential at all. */
  | 'ERR_TOKEN_MISSING'
  /** Not a compact JWS/JWT, or a header this server never writes. */
  | 'ERR_JWT_INVALID'
  /** Signed with a key id this server does not publish. */
  | 'ERR_JWKS_NO_MATCHING_KEY'
  | 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
  | 'ERR_JWT_EXPIRED'
  /** A claim or header parameter failed; see {@link OwnTokenError.claim}. */
  | 'ERR_JWT_CLAIM_VALIDATION_FAILED'
  /** The token lacks a scope the caller requires. */
  | 'ERR_SCOPE_MISSING'
  /** A user was required and the token acts for a client, or the other way round. */
  | 'ERR_SUBJECT_KIND'
  /** The subject (user or client) no longer exists. */
  | 'ERR_SUBJECT_UNKNOWN'
  | 'ERR_SUBJECT_DISABLED'
  /** The user no longer holds the role the caller requires. */
  | 'ERR_ROLE_MISSING'
  /** The token's grant was revoked (or has expired) in the authorization server. */
  | 'ERR_GRANT_REVOKED'
  | 'ERR_ELEVATION_REVOKED'
  | 'ERR_ELEVATION_EXPIRED';

/**
 * Codes that mean "valid token, not enough for this": edges answer 403 / insufficient_scope.
 * Every other code is an invalid token (401): a deleted subject, like a revoked grant, ends it.
 */
export const FORBIDDEN_CODES: ReadonlySet<OwnTokenErrorCode> = new Set([
  'ERR_SCOPE_MISSING',
  'ERR_SUBJECT_KIND',
  'ERR_SUBJECT_DISABLED',
  'ERR_ROLE_MISSING',
]);

/** A refused token. `message` is a fixed, safe sentence: it may be shown to the caller. */
export class OwnTokenError extends Error {
  readonly code: OwnTokenErrorCode;
  /** The claim (or header parameter) that failed, for `ERR_JWT_CLAIM_VALIDATION_FAILED`. */
  readonly claim?: string;

  constructor(code: OwnTokenErrorCode, message: string, claim?: string) {
    super(message);
    this.name = 'OwnTokenError';
    this.code = code;
    if (claim) this.claim = claim;
  }
}
