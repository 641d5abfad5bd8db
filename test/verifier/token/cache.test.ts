import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as jose from 'jose';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import type { TokenVerifierOptions } from '../../../src/verifier/token/options.ts';
import { RESOURCE, signAccessToken, startIssuer, testClock, type TestIssuer } from './fixtures.ts';

// Wrap jose's jwtVerify in a spy: a cache hit must not reach the signature path at all.
vi.mock('jose', async (importOriginal) => {
  const original = await importOriginal<typeof import('jose')>();
  return { ...original, jwtVerify: vi.fn(original.jwtVerify) };
});
const signaturePath = vi.mocked(jose.jwtVerify);

let issuer: TestIssuer;
let clock: ReturnType<typeof testClock>;

beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(() => {
  clock = testClock();
  signaturePath.mockClear();
});

function verifierFor(options: Partial<TokenVerifierOptions> = {}) {
  return createTokenVerifier({
    issuer: issuer.issuer,
    resource: RESOURCE,
    currentDate: clock.currentDate,
    ...options,
  });
}
const sign = (claims = {}) => signAccessToken(issuer, claims, { nowSec: clock.nowSec });

describe('verified-token cache', () => {
  it('answers a repeated token from the cache without checking the signature again', async () => {
    const verifier = verifierFor();
    const token = await sign();
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(signaturePath).toHaveBeenCalledTimes(1);
    expect(second).toEqual(first);
    expect(second.token).toBe(token);
  });

  it('checks the signature once when one new token arrives on many parallel requests', async () => {
    const verifier = verifierFor();
    const token = await sign();
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(signaturePath).toHaveBeenCalledTimes(1);
  });

  it('lets a token expire out of the cache', async () => {
    const verifier = verifierFor({ clockToleranceSec: 5 });
    const token = await sign({ exp: clock.nowSec + 60 });
    await verifier.verify(token);
    clock.advance(64_000); // still within the 5 s leeway
    await verifier.verify(token);
    expect(signaturePath).toHaveBeenCalledTimes(1);
    clock.advance(2_000);
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'invalid_token',
      description: 'token expired',
    });
    expect(signaturePath).toHaveBeenCalledTimes(2);
  });

  it('refuses a revoked elevation even when the token is cached', async () => {
    const revoked = new Set<string>();
    const verifier = verifierFor({ isRevoked: (id) => revoked.has(id) });
    const token = await sign({ elevation: 'elev-42', scope: 'mcp:read deploy:prod' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ elevation: 'elev-42' });
    revoked.add('elev-42');
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'invalid_token',
      description: 'elevation revoked',
    });
    expect(signaturePath).toHaveBeenCalledTimes(1);
  });

  it('evicts the least recently used token when full', async () => {
    const verifier = verifierFor({ cacheMax: 2 });
    const [a, b, c] = await Promise.all([
      sign({ sub: 'a' }),
      sign({ sub: 'b' }),
      sign({ sub: 'c' }),
    ]);
    await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(a); // a is now the most recently used
    await verifier.verify(c); // evicts b
    expect(signaturePath).toHaveBeenCalledTimes(3);
    await verifier.verify(a);
    expect(signaturePath).toHaveBeenCalledTimes(3);
    await verifier.verify(b);
    expect(signaturePath).toHaveBeenCalledTimes(4);
  });

  it('verifies every time when the cache is disabled', async () => {
    const verifier = verifierFor({ cacheMax: 0 });
    const token = await sign();
    await verifier.verify(token);
    await verifier.verify(token);
    expect(signaturePath).toHaveBeenCalledTimes(2);
  });

  it('shares cached entries safely: callers cannot alter what the next request sees', async () => {
    const verifier = verifierFor();
    const token = await sign({ scope: 'mcp:read' });
    const first = await verifier.verify(token);
    expect(() => first.scopes.push('mcp:admin')).toThrow(TypeError);
    first.resource.pathname = '/elsewhere';
    const second = await verifier.verify(token);
    expect(second.scopes).toEqual(['mcp:read']);
    expect(second.resource.href).toBe(RESOURCE);
  });

  it('maps claims to the MCP SDK AuthInfo shape', async () => {
    const { toAuthInfo } = await import('../../../src/verifier/token/auth-info.ts');
    const token = await sign({
      elevation: 'elev-1',
      roles: ['developer', 'viewer'],
      scope: 'mcp:read deploy:staging',
    });
    const verified = await verifierFor().verify(token);
    expect(toAuthInfo(verified)).toEqual({
      token,
      clientId: 'agent-1',
      scopes: ['mcp:read', 'deploy:staging'],
      expiresAt: clock.nowSec + 3600,
      resource: new URL(RESOURCE),
      extra: {
        subject: 'user-1',
        roles: ['developer', 'viewer'],
        elevation: 'elev-1',
        jkt: undefined,
        claims: verified.claims,
      },
    });
  });
});
