import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import type { TokenVerifier, VerifyContext } from '../../../src/verifier/token/types.ts';
import { RESOURCE, signAccessToken, startIssuer, testClock, type TestIssuer } from './fixtures.ts';

interface ClientKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function clientKey(): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

let issuer: TestIssuer;
let holder: ClientKey;
let clock: ReturnType<typeof testClock>;
let verifier: TokenVerifier;
let token: string;

beforeAll(async () => {
  issuer = await startIssuer();
  holder = await clientKey();
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(async () => {
  clock = testClock();
  verifier = createTokenVerifier({
    issuer: issuer.issuer,
    resource: RESOURCE,
    currentDate: clock.currentDate,
  });
  token = await signAccessToken(issuer, { cnf: { jkt: holder.jkt } }, { nowSec: clock.nowSec });
});

const ath = (value: string) => createHash('sha256').update(value).digest('base64url');

/** A DPoP proof for a POST to the resource; `overrides` tamper with one field at a time. */
async function proof(
  overrides: {
    htm?: string;
    htu?: string;
    ath?: string;
    iat?: number;
    jti?: string;
    key?: ClientKey;
    typ?: string;
  } = {},
) {
  const key = overrides.key ?? holder;
  return new SignJWT({
    htm: overrides.htm ?? 'POST',
    htu: overrides.htu ?? RESOURCE,
    ath: overrides.ath ?? ath(token),
    iat: overrides.iat ?? clock.nowSec,
    jti: overrides.jti ?? crypto.randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', typ: overrides.typ ?? 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}

const ctx = (dpop: string | undefined, extra: Partial<VerifyContext> = {}): VerifyContext => ({
  method: 'POST',
  url: `${RESOURCE}?session=1`,
  dpop,
  scheme: 'dpop',
  ...extra,
});

/** A bad proof is `invalid_dpop_proof`; a bad use of the token itself `invalid_token` (RFC 9449 §7.1). */
async function expectRefused(
  dpop: string | undefined,
  reason: string,
  extra: Partial<VerifyContext> = {},
  code = 'invalid_dpop_proof',
) {
  await expect(verifier.verify(token, ctx(dpop, extra))).rejects.toMatchObject({
    code,
    dpop: true,
    description: expect.stringContaining(reason),
  });
}

describe('DPoP-bound tokens (RFC 9449)', () => {
  it('accepts a valid proof (htu compared without the query string)', async () => {
    await expect(verifier.verify(token, ctx(await proof()))).resolves.toMatchObject({
      jkt: holder.jkt,
    });
  });

  it('checks the proof on every request, also when the token is cached', async () => {
    await verifier.verify(token, ctx(await proof()));
    await expect(verifier.verify(token, ctx(await proof()))).resolves.toBeDefined();
    await expectRefused(undefined, 'missing DPoP header');
  });

  it('refuses a bound token without a proof', async () => {
    await expectRefused(undefined, 'missing DPoP header');
  });

  it('refuses a proof for another method', async () => {
    await expectRefused(await proof({ htm: 'GET' }), 'htm mismatch');
  });

  it('refuses a proof for another URL', async () => {
    await expectRefused(await proof({ htu: 'https://mcp.example.com/other' }), 'htu mismatch');
  });

  it('refuses a proof whose ath is not the hash of this token', async () => {
    await expectRefused(await proof({ ath: ath('another-token') }), 'ath mismatch');
  });

  it('refuses a stale proof', async () => {
    await expectRefused(await proof({ iat: clock.nowSec - 120 }), 'iat outside');
  });

  it('refuses a proof issued in the future beyond the window', async () => {
    await expectRefused(await proof({ iat: clock.nowSec + 120 }), 'iat outside');
  });

  it('refuses a replayed proof', async () => {
    const once = await proof();
    await verifier.verify(token, ctx(once));
    await expectRefused(once, 'replayed');
  });

  it('refuses a proof signed by a key other than the bound one', async () => {
    await expectRefused(await proof({ key: await clientKey() }), 'key does not match');
  });

  it('refuses a proof with the wrong typ', async () => {
    await expectRefused(await proof({ typ: 'JWT' }), 'signature or header');
  });

  it('refuses a bound token presented with the Bearer scheme (downgrade)', async () => {
    await expectRefused(
      await proof(),
      'requires the DPoP scheme',
      { scheme: 'bearer' },
      'invalid_token',
    );
  });

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const unbound = await signAccessToken(issuer, {}, { nowSec: clock.nowSec });
    await expect(verifier.verify(unbound, ctx(await proof()))).rejects.toMatchObject({
      description: 'token is not DPoP-bound',
    });
  });
});
