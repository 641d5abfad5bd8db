import type { RateLimitStore } from '../resilience/rate-limit.ts';
/** `fetch`-compatible function; injectable so tests and proxies can replace the network. */
export type FetchLike = (
  input: string,
  init?: { signal?: AbortSignal; headers?: Record<string, string> },
) => Promise<Response>;

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** Expected `iss`; also where the key set is discovered from. Required. */
  issuer: string;
  /**
   * This MCP server's resource URL (RFC 8707). `aud` must be this value (a string, or an array
   * holding only this value: a token is for exactly one resource), compared after RFC 3986 §6.2.2
   * normalisation (`normalizeResourceUri` of `mcp-elevate/policy`). Required.
   */
  resource: string;
  /** Accepted JWS algorithms. Default `['ES256']`. `none` and HS* are refused with a TypeError. */
  algorithms?: string[];
  /** Leeway for `exp`/`nbf`, seconds. Default `5`. */
  clockToleranceSec?: number;
  /**
   * Maximum number of verified tokens kept in memory (LRU). Default `10_000`; `0` disables the cache
   * (every call then checks the signature, parallel ones too).
   */
  cacheMax?: number;
  /** How long a fetched key set is fresh, milliseconds. Default `600_000` (10 min). */
  jwksCacheMaxAgeMs?: number;
  /** Minimum time between refreshes caused by an unknown `kid`, milliseconds. Default `30_000`. */
  jwksCooldownMs?: number;
  /** Timeout of each metadata/JWKS request, milliseconds. Default `5_000`. */
  fetchTimeoutMs?: number;
  /** Consecutive failed refreshes that open the circuit breaker. Default `3`. */
  breakerThreshold?: number;
  /** How long the open breaker refuses refreshes before one trial, milliseconds. Default `30_000`. */
  breakerHalfOpenAfterMs?: number;
  /** Skip discovery and use this JWKS URL. Default: `jwks_uri` from the issuer's metadata. */
  jwksUri?: string;
  /** HTTP client. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Clock. Default `() => new Date()`. Drives claim checks, caches and DPoP freshness. */
  currentDate?: () => Date;
  /** Longest token (and DPoP proof) accepted, in characters; longer → `invalid_token` unparsed. Default `8192`. */
  maxTokenLength?: number;
  /** Accepted DPoP proof algorithms. Default `['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256']`. */
  dpopAlgorithms?: string[];
  /** Allowed distance between a DPoP proof's `iat` and now, seconds. Default `60`. */
  dpopMaxSkewSec?: number;
  /**
   * DPoP `jti` values remembered in memory for replay detection (the memory store's `maxKeys`,
   * and the Redis store's fallback). Default `10_000`.
   */
  dpopReplayCacheMax?: number;
  /**
   * Where seen DPoP proof ids are kept, each for `2 × dpopMaxSkewSec` seconds. A shared store
   * (`{ type: 'redis', client }`) refuses a proof replayed against another instance.
   * Default `{ type: 'memory', maxKeys: dpopReplayCacheMax }`: this verifier only.
   */
  dpopReplayStore?: RateLimitStore;
  /**
   * Consulted on every verification (cache hits too) for tokens with an `elevation` claim;
   * `true` refuses the token with "elevation revoked". Default: nothing is revoked.
   */
  isRevoked?: (elevationId: string) => boolean;
}

/** Options with every default applied. */
export type ResolvedOptions = Required<
  Omit<TokenVerifierOptions, 'jwksUri' | 'dpopReplayStore'>
> & { jwksUri?: string };

const FORBIDDEN_ALG = /^(none|HS\d+)$/i;

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
  return value;
}

function absoluteUrl(name: string, value: unknown): string {
  if (typeof value !== 'string' || !URL.canParse(value))
    throw new TypeError(`${name} must be an absolute URL`);
  return value;
}

function algorithmList(name: string, algs: string[]): string[] {
  if (!Array.isArray(algs) || algs.length === 0)
    throw new TypeError(`${name} must be a non-empty array`);
  for (const alg of algs) {
    // Symmetric algorithms would let anyone holding the (public) verification key mint tokens.
    if (typeof alg !== 'string' || FORBIDDEN_ALG.test(alg))
      throw new TypeError(`${name}: "${String(alg)}" is not allowed`);
  }
  return [...algs];
}

/** Applies defaults and rejects caller mistakes with a TypeError (bad input never gets this far). */
export function resolveOptions(options: TokenVerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('options must be an object');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('fetch must be a function');
  return {
    issuer: absoluteUrl('issuer', options.issuer),
    resource: absoluteUrl('resource', options.resource),
    jwksUri: options.jwksUri === undefined ? undefined : absoluteUrl('jwksUri', options.jwksUri),
    algorithms: algorithmList('algorithms', options.algorithms ?? ['ES256']),
    clockToleranceSec: positive('clockToleranceSec', options.clockToleranceSec ?? 5, true),
    cacheMax: positive('cacheMax', options.cacheMax ?? 10_000, true),
    jwksCacheMaxAgeMs: positive('jwksCacheMaxAgeMs', options.jwksCacheMaxAgeMs ?? 600_000),
    jwksCooldownMs: positive('jwksCooldownMs', options.jwksCooldownMs ?? 30_000, true),
    fetchTimeoutMs: positive('fetchTimeoutMs', options.fetchTimeoutMs ?? 5_000),
    breakerThreshold: positive('breakerThreshold', options.breakerThreshold ?? 3),
    breakerHalfOpenAfterMs: positive(
      'breakerHalfOpenAfterMs',
      options.breakerHalfOpenAfterMs ?? 30_000,
    ),
    fetch: fetchImpl as FetchLike,
    currentDate: options.currentDate ?? (() => new Date()),
    maxTokenLength: positive('maxTokenLength', options.maxTokenLength ?? 8192),
    dpopAlgorithms: algorithmList(
      'dpopAlgorithms',
      options.dpopAlgorithms ?? ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    ),
    dpopMaxSkewSec: positive('dpopMaxSkewSec', options.dpopMaxSkewSec ?? 60),
    dpopReplayCacheMax: positive('dpopReplayCacheMax', options.dpopReplayCacheMax ?? 10_000),
    isRevoked: options.isRevoked ?? (() => false),
  };
}
