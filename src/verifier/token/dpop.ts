import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { InvalidDpopProofError } from '../errors.ts';
import { RateLimiter, type RateLimitStore } from '../resilience/rate-limit.ts';

/** Settings of {@link createDpopChecker}; see `TokenVerifierOptions` for defaults. */
export interface DpopOptions {
  algorithms: string[];
  maxSkewSec: number;
  /**
   * Proof ids seen: a limit of one use per key over at least `2 × maxSkewSec` seconds, so that a
   * proof stays remembered for as long as its `iat` is accepted (see {@link dpopReplayLimiter}).
   */
  seen: Pick<RateLimiter, 'consume'>;
  maxLength: number;
  /** Milliseconds since the epoch. */
  now: () => number;
}

/** What a proof is checked against. */
export interface DpopRequest {
  proof: string | undefined;
  accessToken: string;
  jkt: string;
  method: string;
  url: string;
}

const MAX_JTI_LENGTH = 256;

/** `htu` comparison ignores query and fragment (RFC 9449 §4.3) and uses URL normalisation. */
function targetUri(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
}

function refuse(reason: string): never {
  throw new InvalidDpopProofError(`invalid DPoP proof: ${reason}`);
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3) for a token bound to `cnf.jkt`. Rules it enforces:
 * 1. a proof is present, at most `maxLength` long, a JWS with `typ: dpop+jwt` and an allowed
 *    asymmetric `alg`, signed by the public `jwk` in its own header;
 * 2. that key's SHA-256 thumbprint equals the token's `cnf.jkt`;
 * 3. `htm` equals the request method and `htu` the request URL (without query and fragment);
 * 4. `ath` is base64url(SHA-256(access token));
 * 5. `iat` lies within ±`maxSkewSec` of now;
 * 6. `jti` has not been seen for this key within that window (the `seen` store: in memory and
 *    bounded, or shared by every instance).
 * Server-provided nonces are not used.
 */
export function createDpopChecker(options: DpopOptions): (request: DpopRequest) => Promise<void> {
  return async ({ proof, accessToken, jkt, method, url }) => {
    if (proof === undefined || proof === '') refuse('missing DPoP header');
    if (proof.length > options.maxLength) refuse('too long');
    let header: { jwk?: JWK };
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: options.algorithms,
        currentDate: new Date(options.now()),
      });
      header = result.protectedHeader;
      payload = result.payload;
    } catch {
      refuse('signature or header');
    }
    if (header.jwk === undefined || (await calculateJwkThumbprint(header.jwk, 'sha256')) !== jkt)
      refuse('key does not match the token binding');
    if (payload.htm !== method) refuse('htm mismatch');
    const htu = typeof payload.htu === 'string' ? targetUri(payload.htu) : undefined;
    if (htu === undefined || htu !== targetUri(url)) refuse('htu mismatch');
    if (payload.ath !== createHash('sha256').update(accessToken).digest('base64url'))
      refuse('ath mismatch');
    const nowSec = options.now() / 1000;
    if (typeof payload.iat !== 'number' || Math.abs(nowSec - payload.iat) > options.maxSkewSec)
      refuse('iat outside the accepted window');
    const { jti } = payload;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) refuse('missing jti');
    // Checked last: only a proof valid in every other respect uses up its id.
    if (!(await options.seen.consume(`${jkt}.${jti}`)).allowed) refuse('replayed');
  };
}

/**
 * The `seen` store of {@link createDpopChecker}: one use per proof id over `2 × maxSkewSec`
 * seconds, the longest an accepted `iat` can be away from the first sight of its proof.
 */
export function dpopReplayLimiter(options: {
  maxSkewSec: number;
  store: RateLimitStore;
  now: () => number;
}): RateLimiter {
  return new RateLimiter({
    points: 1,
    durationSec: Math.ceil(2 * options.maxSkewSec),
    store: options.store,
    name: 'dpop-jti',
    now: options.now,
  });
}
