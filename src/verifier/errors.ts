/**
 * Typed errors of the resource-server verifier.
 *
 * Each error carries a stable `code` (the OAuth / HTTP word for it) and the HTTP `status` it maps
 * to; `http/challenge.ts` is the one place that turns them into responses. `description` is safe
 * to show to the client: it never holds internal details (stack, upstream messages, key material).
 *
 * Status choices:
 * - a token that is absent, malformed, expired, forged or revoked is the client's problem → 401;
 * - a request that is itself malformed (two Authorization headers, a scheme without a token) → 400;
 * - a valid token lacking scopes → 403;
 * - the issuer's key set cannot be obtained at all (never fetched, or an unknown `kid` while the
 *   issuer is unreachable) → **503 `temporarily_unavailable`**, with `Retry-After`. A 401 would send
 *   the client into a pointless re-authorization loop for a token that may well be valid, and a 500
 *   would blame the resource server; neither is true.
 */
export abstract class VerifierError extends Error {
  /** Stable machine-readable code. */
  abstract readonly code: string;
  /** HTTP status this error maps to. */
  abstract readonly status: number;

  /** Client-safe explanation; becomes `error_description`. */
  readonly description: string;
  /**
   * Whether the failure concerns DPoP (a DPoP-bound token, or its proof): such failures are
   * challenged with the `DPoP` scheme (RFC 9449 §7.1) instead of `Bearer`.
   */
  readonly dpop: boolean;

  constructor(description: string, options?: VerifierErrorOptions) {
    super(description, options);
    this.name = new.target.name;
    this.description = description;
    this.dpop = options?.dpop ?? false;
  }
}

/** Options of a {@link VerifierError}: the standard `cause`, and whether it concerns DPoP. */
export interface VerifierErrorOptions extends ErrorOptions {
  /** Challenge with the `DPoP` scheme. Default `false`. */
  dpop?: boolean;
}

/**
 * No credentials were presented (no Authorization header, or a scheme other than Bearer/DPoP).
 * Answered with a bare `401 Bearer resource_metadata="…"` and no `error` parameter (RFC 6750 §3.1).
 */
export class MissingTokenError extends VerifierError {
  readonly code = 'missing_token';
  readonly status = 401;
  constructor(description = 'authentication required') {
    super(description);
  }
}

/** The access token (or its DPoP proof) is malformed, expired, forged, revoked or not for us. */
export class InvalidTokenError extends VerifierError {
  readonly code = 'invalid_token';
  readonly status = 401;
}

/**
 * The DPoP proof of a DPoP-bound token is missing, malformed, for another request, stale,
 * replayed or signed by a key other than the bound one (RFC 9449 §7.1 `invalid_dpop_proof`).
 */
export class InvalidDpopProofError extends VerifierError {
  readonly code = 'invalid_dpop_proof';
  readonly status = 401;
  constructor(description: string, options?: ErrorOptions) {
    super(description, { ...options, dpop: true });
  }
}

/** The token is valid but lacks scopes; `scopes` are the ones the call needs. */
export class InsufficientScopeError extends VerifierError {
  readonly code = 'insufficient_scope';
  readonly status = 403;
  /** Scopes the request needs in addition to (or instead of) the token's. */
  readonly scopes: readonly string[];
  constructor(
    scopes: readonly string[],
    description = 'insufficient scope',
    options?: VerifierErrorOptions,
  ) {
    super(description, options);
    this.scopes = Object.freeze([...scopes]);
  }
}

/** The request is malformed: repeated Authorization/DPoP headers, a scheme without a token, … */
export class InvalidRequestError extends VerifierError {
  readonly code = 'invalid_request';
  readonly status = 400;
}

/**
 * The issuer's signing keys are unavailable, so the token can be neither accepted nor refused.
 * Maps to 503 with `Retry-After: retryAfterSec`.
 */
export class TemporarilyUnavailableError extends VerifierError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
  /** Seconds the client should wait before retrying. */
  readonly retryAfterSec: number;

  constructor(
    description = 'authorization server keys unavailable',
    retryAfterSec = 5,
    options?: VerifierErrorOptions,
  ) {
    super(description, options);
    this.retryAfterSec = retryAfterSec;
  }
}

/** The request body exceeds the configured limit (HTTP 413). */
export class PayloadTooLargeError extends VerifierError {
  readonly code = 'payload_too_large';
  readonly status = 413;
}

/** The request body is not valid JSON; answered as JSON-RPC `-32700 Parse error` with HTTP 400. */
export class JsonRpcParseError extends VerifierError {
  readonly code = 'parse_error';
  readonly status = 400;
}
