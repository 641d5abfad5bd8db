import type { JWTPayload } from 'jose';

/**
 * A verified access token. Field for field it maps onto the MCP SDK's `AuthInfo`
 * (see {@link toAuthInfo}); arrays and `claims` are frozen because cached entries are shared
 * between requests.
 */
export interface VerifiedToken {
  /** The raw access token as presented. */
  token: string;
  /** `client_id` claim (RFC 9068): the OAuth client / agent the token was issued to. */
  clientId: string;
  /** `scope` claim split on spaces (base scopes ∪ granted elevated scopes). */
  scopes: string[];
  /** `exp` claim, seconds since the epoch. */
  expiresAt: number;
  /** `sub` claim: the user (or the client itself for client_credentials). */
  subject?: string;
  /** `roles` claim: effective role names. */
  roles: string[];
  /** `elevation` claim: the elevation id of an elevated token. */
  elevation?: string;
  /** The resource (audience) this token was verified for: the configured `resource`. */
  resource: URL;
  /** JWK SHA-256 thumbprint the token is bound to (`cnf.jkt`, RFC 9449), when DPoP-bound. */
  jkt?: string;
  /** The complete, verified JWT claims set. */
  claims: Readonly<JWTPayload>;
}

/** Facts about the HTTP request a token arrived with; needed for DPoP and scheme checks. */
export interface VerifyContext {
  /** HTTP method, e.g. `POST` (compared with the proof's `htm`). */
  method: string;
  /** Absolute request URL as the client addressed it (compared with the proof's `htu`). */
  url: string;
  /** The `DPoP` request header (the proof JWT), if any. */
  dpop?: string;
  /**
   * Authorization scheme the token came with. `bearer` refuses DPoP-bound tokens (downgrade,
   * RFC 9449 §7.1); `dpop` refuses tokens without `cnf.jkt`. Undefined skips the scheme check.
   */
  scheme?: 'bearer' | 'dpop';
}

/** What {@link createTokenVerifier} returns. */
export interface TokenVerifier {
  /**
   * Verifies an access token. Resolves to the verified token or rejects with
   * `InvalidTokenError` (401) or `TemporarilyUnavailableError` (503, keys unobtainable).
   */
  verify(token: string, ctx?: VerifyContext): Promise<VerifiedToken>;
  /** The configured resource URL (as given). */
  readonly resource: string;
  /** The configured issuer. */
  readonly issuer: string;
  /**
   * DPoP proof algorithms accepted (`dpopAlgorithms`): advertised as the metadata's
   * `dpop_signing_alg_values_supported` and the `algs` of DPoP challenges (RFC 9449 §5.1, §7.1).
   * Undefined: the verifier does not take DPoP, and challenges offer `Bearer` only.
   */
  readonly dpopAlgorithms?: readonly string[];
}
