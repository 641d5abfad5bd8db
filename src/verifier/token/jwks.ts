import { circuitBreaker, ConsecutiveBreaker, handleAll } from 'cockatiel';
import {
  createLocalJWKSet,
  errors,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JSONWebKeySet,
  type LocalJWKSet,
} from 'jose';
import { TemporarilyUnavailableError } from '../errors.ts';
import { discoverMetadata, fetchJson } from './discovery.ts';
import type { FetchLike } from './options.ts';

/** Settings of {@link createKeyStore}; see `TokenVerifierOptions` for meanings and defaults. */
export interface KeyStoreOptions {
  issuer: string;
  jwksUri?: string;
  fetch: FetchLike;
  fetchTimeoutMs: number;
  maxAgeMs: number;
  cooldownMs: number;
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
  /** Milliseconds since the epoch. */
  now: () => number;
}

/** A jose key resolver backed by the issuer's cached key set. */
export type KeyResolver = (
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey>;

/**
 * The issuer's signing keys, fetched and cached. Rules it enforces:
 * - **single flight**: concurrent callers share one in-flight refresh;
 * - **stale-while-revalidate / stale-if-error**: once a key set is known, an aged one is served
 *   while a background refresh runs, and kept when that refresh fails;
 * - **rotation**: an unknown `kid` forces one refresh, at most once per `cooldownMs`, so a flood of
 *   tokens with made-up `kid`s cannot turn us into a load generator against the issuer;
 * - **circuit breaker** around every refresh, so a down issuer is not hammered;
 * - keys unobtainable (never fetched, or an unknown `kid` while refreshing fails) → 503, not 401:
 *   the token may be perfectly valid.
 */
export function createKeyStore(options: KeyStoreOptions): KeyResolver {
  const breaker = circuitBreaker(handleAll, {
    halfOpenAfter: options.breakerHalfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.breakerThreshold),
  });
  let current: { keys: LocalJWKSet; fetchedAt: number } | undefined;
  let inflight: Promise<LocalJWKSet> | undefined;
  let jwksUri = options.jwksUri;
  let lastKidRefresh = Number.NEGATIVE_INFINITY;
  let lastRefreshFailed = false;

  async function load(): Promise<LocalJWKSet> {
    jwksUri ??= (
      await discoverMetadata(options.fetch, options.issuer, options.fetchTimeoutMs, 'jwks_uri')
    ).jwks_uri;
    try {
      return createLocalJWKSet(
        (await fetchJson(options.fetch, jwksUri, options.fetchTimeoutMs)) as JSONWebKeySet,
      );
    } catch (error) {
      // The issuer may have moved its key set: look it up again next time.
      if (options.jwksUri === undefined) jwksUri = undefined;
      throw error;
    }
  }

  function refresh(): Promise<LocalJWKSet> {
    inflight ??= breaker
      .execute(load)
      .then(
        (keys) => {
          current = { keys, fetchedAt: options.now() };
          lastRefreshFailed = false;
          return keys;
        },
        (error: unknown) => {
          lastRefreshFailed = true;
          throw error;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  async function keySet(): Promise<LocalJWKSet> {
    if (current === undefined) {
      try {
        return await refresh();
      } catch (error) {
        throw new TemporarilyUnavailableError(undefined, undefined, { cause: error });
      }
    }
    if (options.now() - current.fetchedAt >= options.maxAgeMs) {
      // Failure is already recorded in lastRefreshFailed; the stale set keeps serving.
      refresh().catch(() => undefined);
    }
    return current.keys;
  }

  async function afterUnknownKid(seen: LocalJWKSet): Promise<LocalJWKSet | undefined> {
    if (inflight !== undefined) return inflight;
    // Someone else's refresh finished while we were looking: try the newer set first.
    if (current !== undefined && current.keys !== seen) return current.keys;
    if (options.now() - lastKidRefresh < options.cooldownMs) {
      if (lastRefreshFailed) throw new TemporarilyUnavailableError();
      return undefined;
    }
    lastKidRefresh = options.now();
    return refresh();
  }

  return async (header, token) => {
    const keys = await keySet();
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      let fresh: LocalJWKSet | undefined;
      try {
        fresh = await afterUnknownKid(keys);
      } catch (cause) {
        if (cause instanceof TemporarilyUnavailableError) throw cause;
        throw new TemporarilyUnavailableError(undefined, undefined, { cause });
      }
      if (fresh === undefined) throw error;
      return fresh(header, token);
    }
  };
}
