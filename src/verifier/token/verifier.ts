import { hash } from 'node:crypto';
import { jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { InvalidDpopProofError, InvalidTokenError } from '../errors.ts';
import { mapClaims, toInvalidToken, type CachedToken } from './claims.ts';
import { createDpopChecker, dpopReplayLimiter } from './dpop.ts';
import { createKeyStore } from './jwks.ts';
import { resolveOptions, type TokenVerifierOptions } from './options.ts';
import type { TokenVerifier, VerifiedToken, VerifyContext } from './types.ts';

/** Three base64url segments; the signature may be empty so that `alg: none` is refused by name. */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * Creates the access-token verifier of an MCP server (ARCHITECTURE.md §7.1).
 *
 * A token is accepted when: it is at most `maxTokenLength` long and a compact JWS; its header
 * has `typ` `at+jwt` (or `application/at+jwt`, any case) and an allowed `alg`; it is signed by a
 * key of the issuer's key set; `iss` is the issuer; `aud` is exactly our resource; `exp` is present
 * and, like `nbf`, holds within `clockToleranceSec`; `client_id` is present; its elevation is not
 * revoked; and, when bound with `cnf.jkt`, it came with the DPoP scheme and a valid proof.
 *
 * Verified tokens are cached (keyed by their SHA-256, never the raw token) until `exp` plus the
 * clock tolerance, at most `cacheMax` of them (least recently used first out), so a repeated call
 * costs a lookup; parallel requests with a new token share one signature check. Revocation,
 * scheme and DPoP checks still run on every call.
 *
 * @throws TypeError on invalid options.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const o = resolveOptions(options);
  const nowMs = () => o.currentDate().getTime();
  const getKey = createKeyStore({
    issuer: o.issuer,
    jwksUri: o.jwksUri,
    fetch: o.fetch,
    fetchTimeoutMs: o.fetchTimeoutMs,
    maxAgeMs: o.jwksCacheMaxAgeMs,
    cooldownMs: o.jwksCooldownMs,
    breakerThreshold: o.breakerThreshold,
    breakerHalfOpenAfterMs: o.breakerHalfOpenAfterMs,
    now: nowMs,
  });
  const checkDpop = createDpopChecker({
    algorithms: o.dpopAlgorithms,
    maxSkewSec: o.dpopMaxSkewSec,
    seen: dpopReplayLimiter({
      maxSkewSec: o.dpopMaxSkewSec,
      store: options.dpopReplayStore ?? { type: 'memory', maxKeys: o.dpopReplayCacheMax },
      now: nowMs,
    }),
    maxLength: o.maxTokenLength,
    now: nowMs,
  });

  async function verifySignatureAndClaims(token: string): Promise<CachedToken> {
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: o.issuer,
        typ: 'at+jwt',
        algorithms: o.algorithms,
        clockTolerance: o.clockToleranceSec,
        currentDate: o.currentDate(),
        requiredClaims: ['exp', 'aud'],
      });
      return mapClaims(payload, o.resource);
    } catch (error) {
      throw toInvalidToken(error);
    }
  }

  // lru-cache's fetch is the single flight: a client firing parallel requests with a new token
  // pays for one signature check, not N. Its clock is ours, so entries expire as jose would judge.
  const cache =
    o.cacheMax === 0
      ? undefined
      : new LRUCache<string, CachedToken, string>({
          max: o.cacheMax,
          perf: { now: nowMs },
          ttlResolution: 0,
          // A check evicted while under way still answers the requests waiting for it.
          ignoreFetchAbort: true,
          async fetchMethod(_key, _stale, { context: token, options }) {
            const verified = await verifySignatureAndClaims(token);
            // Live while exp, with leeway, holds: until (exp + tolerance) s, exclusive; jose
            // accepted the token, so at least 1 ms is left (a ttl of 0 would mean forever).
            const endMs = (verified.expiresAt + o.clockToleranceSec) * 1000;
            options.ttl = Math.max(1, endMs - nowMs() - 1);
            return verified;
          },
        });

  async function verify(token: string, ctx?: VerifyContext): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0)
      throw new InvalidTokenError('missing token');
    // Cheap refusals before any parsing or hashing of attacker-sized input.
    if (token.length > o.maxTokenLength) throw new InvalidTokenError('token too large');
    if (!COMPACT_JWS.test(token)) throw new InvalidTokenError('malformed token');

    let verified: CachedToken;
    if (cache === undefined) verified = await verifySignatureAndClaims(token);
    else {
      const key = hash('sha256', token, 'base64url');
      // fetch never resolves undefined here: its method returns a token or throws.
      verified = cache.get(key) ?? (await cache.fetch(key, { context: token }))!;
    }

    if (verified.elevation !== undefined && o.isRevoked(verified.elevation)) {
      throw new InvalidTokenError('elevation revoked', { dpop: verified.jkt !== undefined });
    }
    if (verified.jkt === undefined) {
      if (ctx?.scheme === 'dpop')
        throw new InvalidTokenError('token is not DPoP-bound', { dpop: true });
    } else {
      // A bound token sent as Bearer is a downgrade attempt (RFC 9449 §7.1).
      if (ctx?.scheme === 'bearer')
        throw new InvalidTokenError('DPoP-bound token requires the DPoP scheme', { dpop: true });
      if (ctx === undefined)
        throw new InvalidDpopProofError('DPoP-bound token requires a DPoP proof');
      await checkDpop({
        proof: ctx.dpop,
        accessToken: token,
        jkt: verified.jkt,
        method: ctx.method,
        url: ctx.url,
      });
    }
    return { ...verified, token, resource: new URL(o.resource) };
  }

  return {
    verify,
    resource: o.resource,
    issuer: o.issuer,
    dpopAlgorithms: Object.freeze([...o.dpopAlgorithms]),
  };
}
