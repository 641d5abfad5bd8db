import type { FetchLike } from '../token/options.ts';
import type { PolicyClientError } from './errors.ts';

/** Options of `createPolicyClient`. */
export interface PolicyClientOptions {
  /**
   * The authorization server (its `iss`). The bundle is read from `<issuer>/policy/v1/bundle`,
   * revocations from `<issuer>/elevation/v1/revocations`, keys from the issuer's metadata. Required.
   */
  issuer: string;
  /**
   * This MCP server's resource URL. When set, a step-up only offers scopes the catalogue lists for
   * this resource (compared after RFC 3986 §6.2.2 normalisation, `normalizeResourceUri`). Default: no restriction.
   */
  resource?: string;
  /** HTTP client. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** How often the bundle is revalidated (ETag / If-None-Match), ms. Default `60_000`. */
  refreshMs?: number;
  /**
   * How often the revocation feed is polled, ms. Default `5_000`; at most `10_000`, so a revoked
   * elevation is refused within 10 s (ARCHITECTURE.md §6).
   */
  revocationPollMs?: number;
  /**
   * Path of a JSON file `{ catalogue, roles? }` for static setups: read once, never refreshed;
   * `roles` defaults to the built-in default roles. Default: the signed bundle from the issuer.
   * Revocations are still polled from the issuer.
   */
  localBundle?: string;
  /**
   * How long a revoked elevation id is remembered, ms. An elevated token lives at most the longest
   * `expiresIn` of the catalogue (1 h in the shipped one), so after this its token has expired anyway.
   * Default `86_400_000` (24 h).
   */
  revocationRetentionMs?: number;
  /** Most revoked ids kept; past it the oldest are forgotten first. Default `100_000`. */
  maxRevoked?: number;
  /**
   * When the feed has not been read successfully for this long, `isRevoked` answers `true` for
   * every elevation (elevated tokens refused, base tokens unaffected). Default `Infinity`: an
   * outage of the server does not lock elevated callers out; the last known revocations still apply.
   */
  revocationMaxStalenessMs?: number;
  /** Accepted signature algorithms of the bundle and feed. Default `['ES256']`. */
  algorithms?: string[];
  /** Timeout of each request, ms. Default `5_000`. */
  fetchTimeoutMs?: number;
  /** Skip discovery and read keys from this JWKS URL. Default: `jwks_uri` of the issuer's metadata. */
  jwksUri?: string;
  /** Clock. Default `() => new Date()`. Drives decisions (time windows), retention and staleness. */
  currentDate?: () => Date;
  /** Told about every refused bundle or failed poll (for logging). Must not throw. Default: none. */
  onError?: (error: PolicyClientError) => void;
}

/** Options with defaults applied. */
export type ResolvedPolicyClientOptions = Required<
  Omit<PolicyClientOptions, 'resource' | 'localBundle' | 'jwksUri'>
> &
  Pick<PolicyClientOptions, 'resource' | 'localBundle' | 'jwksUri'>;

/** Longest revocation poll interval allowed: ARCHITECTURE.md §6 promises refusal within 10 s. */
export const MAX_REVOCATION_POLL_MS = 10_000;

function number(name: string, value: number, min: number, max = Infinity): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a number between ${min} and ${max}`);
  }
  return value;
}

function url(name: string, value: unknown): string {
  if (typeof value !== 'string' || !URL.canParse(value))
    throw new TypeError(`${name} must be an absolute URL`);
  return value;
}

/** Applies defaults; a caller's mistake throws a TypeError. */
export function resolvePolicyClientOptions(
  options: PolicyClientOptions,
): ResolvedPolicyClientOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('options must be an object');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('fetch must be a function');
  if (
    options.localBundle !== undefined &&
    (typeof options.localBundle !== 'string' || options.localBundle === '')
  ) {
    throw new TypeError('localBundle must be a file path');
  }
  const algorithms = options.algorithms ?? ['ES256'];
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    algorithms.some((alg) => /^(none|HS\d+)$/i.test(alg))
  ) {
    throw new TypeError('algorithms must be a non-empty list of asymmetric algorithms');
  }
  return {
    issuer: url('issuer', options.issuer),
    resource: options.resource === undefined ? undefined : url('resource', options.resource),
    jwksUri: options.jwksUri === undefined ? undefined : url('jwksUri', options.jwksUri),
    localBundle: options.localBundle,
    fetch: fetchImpl as FetchLike,
    refreshMs: number('refreshMs', options.refreshMs ?? 60_000, 100),
    revocationPollMs: number(
      'revocationPollMs',
      options.revocationPollMs ?? 5_000,
      100,
      MAX_REVOCATION_POLL_MS,
    ),
    revocationRetentionMs: number(
      'revocationRetentionMs',
      options.revocationRetentionMs ?? 86_400_000,
      1,
    ),
    maxRevoked: number('maxRevoked', options.maxRevoked ?? 100_000, 1),
    revocationMaxStalenessMs: number(
      'revocationMaxStalenessMs',
      options.revocationMaxStalenessMs ?? Infinity,
      1,
    ),
    algorithms: [...algorithms],
    fetchTimeoutMs: number('fetchTimeoutMs', options.fetchTimeoutMs ?? 5_000, 1),
    currentDate: options.currentDate ?? (() => new Date()),
    onError: options.onError ?? (() => undefined),
  };
}
