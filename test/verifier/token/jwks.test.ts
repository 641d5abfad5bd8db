import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidTokenError, TemporarilyUnavailableError } from '../../../src/verifier/errors.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import type { TokenVerifierOptions } from '../../../src/verifier/token/options.ts';
import {
  makeKey,
  RESOURCE,
  signAccessToken,
  startIssuer,
  testClock,
  type TestIssuer,
} from './fixtures.ts';

let issuer: TestIssuer;
let clock: ReturnType<typeof testClock>;

beforeEach(async () => {
  issuer = await startIssuer();
  clock = testClock();
});
afterEach(async () => {
  await issuer.close();
});

function verifierFor(options: Partial<TokenVerifierOptions> = {}) {
  return createTokenVerifier({
    issuer: issuer.issuer,
    resource: RESOURCE,
    currentDate: clock.currentDate,
    ...options,
  });
}
const sign = (claims = {}, key = issuer.key) =>
  signAccessToken(issuer, claims, { key, nowSec: clock.nowSec });

describe('JWKS discovery and caching', () => {
  it('shares one metadata and one key-set fetch among 50 concurrent first verifications', async () => {
    const verifier = verifierFor();
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sign({ sub: `user-${i}` })),
    );
    const results = await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(results.map((r) => r.subject)).toEqual(tokens.map((_, i) => `user-${i}`));
    expect(issuer.counts).toMatchObject({ metadata: 1, jwks: 1 });
  });

  it('falls back to openid-configuration when RFC 8414 metadata is absent', async () => {
    issuer.mode = 'only-openid';
    await verifierFor().verify(await sign());
    expect(issuer.counts).toMatchObject({ metadata: 1, openid: 1, jwks: 1 });
  });

  it('keeps serving the last good key set when the issuer goes down (stale-if-error)', async () => {
    const verifier = verifierFor({ jwksCacheMaxAgeMs: 60_000 });
    const seen = await sign();
    await verifier.verify(seen);
    await issuer.close();
    clock.advance(10 * 60_000); // the key set is now well past its max age
    const fresh = await sign({ sub: 'someone-else' });
    await expect(verifier.verify(seen)).resolves.toMatchObject({ subject: 'user-1' });
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ subject: 'someone-else' });
    await expect(verifier.verify(await sign({ sub: 'third' }))).resolves.toMatchObject({
      subject: 'third',
    });
  });

  it('refreshes an aged key set in the background while still answering from it', async () => {
    const verifier = verifierFor({ jwksCacheMaxAgeMs: 60_000 });
    await verifier.verify(await sign());
    clock.advance(61_000);
    await verifier.verify(await sign({ sub: 'later' }));
    await vi.waitFor(() => expect(issuer.counts.jwks).toBe(2));
  });

  it('picks up a rotated key with exactly one refresh', async () => {
    const verifier = verifierFor();
    await verifier.verify(await sign());
    const next = await makeKey('k2');
    issuer.published.push(next);
    const rotated = await Promise.all([
      sign({}, next),
      sign({ sub: 'b' }, next),
      sign({ sub: 'c' }, next),
    ]);
    await Promise.all(rotated.map((token) => verifier.verify(token)));
    await verifier.verify(await sign({ sub: 'd' }, next));
    expect(issuer.counts.jwks).toBe(2);
  });

  it('does not refresh again for unknown kids within the cooldown', async () => {
    const verifier = verifierFor({ jwksCooldownMs: 30_000 });
    await verifier.verify(await sign());
    const strangers = await Promise.all([makeKey('x1'), makeKey('x2'), makeKey('x3')]);
    for (const stranger of strangers) {
      await expect(verifier.verify(await sign({}, stranger))).rejects.toBeInstanceOf(
        InvalidTokenError,
      );
    }
    expect(issuer.counts.jwks).toBe(2);
    clock.advance(31_000);
    await expect(verifier.verify(await sign({}, strangers[0]))).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    expect(issuer.counts.jwks).toBe(3);
  });

  it('answers 503 (not 401) when the key set was never obtainable', async () => {
    issuer.mode = 'error';
    await expect(verifierFor().verify(await sign())).rejects.toBeInstanceOf(
      TemporarilyUnavailableError,
    );
  });

  it('answers 503 for an unknown kid while the issuer is unreachable', async () => {
    const verifier = verifierFor({ jwksCooldownMs: 0 });
    await verifier.verify(await sign());
    issuer.mode = 'error';
    await expect(verifier.verify(await sign({}, await makeKey('new')))).rejects.toBeInstanceOf(
      TemporarilyUnavailableError,
    );
  });

  it('opens the circuit breaker after consecutive failures so a down issuer is not hammered', async () => {
    issuer.mode = 'error';
    const verifier = verifierFor({ breakerThreshold: 3, breakerHalfOpenAfterMs: 60_000 });
    const token = await sign();
    for (let i = 0; i < 25; i += 1) {
      await expect(verifier.verify(token)).rejects.toBeInstanceOf(TemporarilyUnavailableError);
    }
    // 3 refresh attempts (each: RFC 8414 metadata, then the OpenID fallback), then the breaker refuses locally.
    expect(issuer.counts.total).toBe(6);
  });

  it('rejects a discovery document that names another issuer', async () => {
    // Same server, other name: its metadata says "127.0.0.1", which is not the issuer we trust.
    const alias = issuer.issuer.replace('127.0.0.1', 'localhost');
    const verifier = createTokenVerifier({
      issuer: alias,
      resource: RESOURCE,
      currentDate: clock.currentDate,
    });
    await expect(verifier.verify(await sign({ iss: alias }))).rejects.toBeInstanceOf(
      TemporarilyUnavailableError,
    );
    expect(issuer.counts).toMatchObject({ metadata: 1, openid: 1, jwks: 0 });
  });

  it('uses a configured jwksUri without discovery', async () => {
    await verifierFor({ jwksUri: `${issuer.issuer}/jwks` }).verify(await sign());
    expect(issuer.counts).toMatchObject({ metadata: 0, openid: 0, jwks: 1 });
  });
});

describe('verifier options', () => {
  it('goes to the network only through the injected fetch', async () => {
    const urls: string[] = [];
    const verifier = verifierFor({ fetch: (url, init) => (urls.push(url), fetch(url, init)) });
    await verifier.verify(await sign());
    expect(urls).toEqual([
      `${issuer.issuer}/.well-known/oauth-authorization-server`,
      `${issuer.issuer}/jwks`,
    ]);
  });

  it('refuses none and HS* in the algorithm allow-list with a TypeError', () => {
    for (const alg of ['none', 'HS256', 'hs512']) {
      expect(() =>
        createTokenVerifier({
          issuer: 'https://as.example.com',
          resource: RESOURCE,
          algorithms: [alg],
        }),
      ).toThrow(TypeError);
    }
  });

  it('refuses a relative issuer or resource with a TypeError', () => {
    expect(() => createTokenVerifier({ issuer: '/as', resource: RESOURCE })).toThrow(TypeError);
    expect(() =>
      createTokenVerifier({ issuer: 'https://as.example.com', resource: 'mcp' }),
    ).toThrow(TypeError);
  });

  it('refuses an ES256 token when only ES384 is allowed', async () => {
    const verifier = verifierFor({ algorithms: ['ES384'] });
    await expect(verifier.verify(await sign())).rejects.toMatchObject({
      code: 'invalid_token',
      description: 'algorithm not allowed',
    });
  });
});
