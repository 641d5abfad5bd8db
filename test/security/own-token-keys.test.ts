import { describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { OwnTokenVerifier, type OwnTokenVerifierOptions } from '../../src/tokens/index.ts';
import type { PrivateJwk } from '../../src/keys/keystore.ts';

const ISSUER = 'https://as.example';
const AUDIENCE = `${ISSUER}/admin`;
const USER = 'u1';

async function newKey(): Promise<{
  jwk: PrivateJwk;
  sign: (claims?: Record<string, unknown>, exp?: number) => Promise<string>;
}> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const exported = await exportJWK(privateKey);
  const jwk = {
    ...exported,
    kid: await calculateJwkThumbprint(exported),
    alg: 'ES256',
    use: 'sig' as const,
  };
  const sign = (claims = {}, exp = Math.floor(Date.now() / 1000) + 300) =>
    new SignJWT({ scope: 'mcp:tools:read', client_id: 'cli', grant_id: 'g1', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(USER)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(privateKey);
  return { jwk, sign };
}

// Liveness answered from memory: these tests are about keys, the signature memo and the clock.
function verifier(keys: () => PrivateJwk[], opts: Partial<OwnTokenVerifierOptions> = {}) {
  let loads = 0;
  const tokens = new OwnTokenVerifier({
    issuer: ISSUER,
    loadKeys: async () => {
      loads++;
      return keys();
    },
    isElevatedScope: () => false,
    lookups: {
      findUser: async (id) => (id === USER ? { disabled: false } : undefined),
      effectiveRoles: async () => ['admin'],
      clientExists: async () => true,
      findGrant: async (id) => (id === 'g1' ? { accountId: USER, clientId: 'cli' } : undefined),
      findElevation: async () => undefined,
    },
    ...opts,
  });
  return { verify: (t: string) => tokens.verify(t, { audience: AUDIENCE }), loads: () => loads };
}

describe("the verifier of the server's own tokens: keys and clock", () => {
  it('accepts a token signed by a key that appeared after the keys were loaded (rotation by another instance)', async () => {
    const first = await newKey();
    const second = await newKey();
    let published = [first.jwk];
    const { verify, loads } = verifier(() => published, { reloadIntervalMs: 0 });
    await expect(verify(await first.sign())).resolves.toMatchObject({
      subject: USER,
      clientId: 'cli',
      kind: 'user',
    });
    published = [second.jwk, first.jwk];
    await expect(verify(await second.sign())).resolves.toMatchObject({ subject: USER });
    expect(loads()).toBe(2);
  });

  it('reloads keys for unknown kids at most once per interval, so garbage kids cannot hammer the database', async () => {
    const known = await newKey();
    const stranger = await newKey();
    const { verify, loads } = verifier(() => [known.jwk], { reloadIntervalMs: 60_000 });
    await verify(await known.sign());
    for (let i = 0; i < 5; i++)
      await expect(verify(await stranger.sign())).rejects.toMatchObject({
        code: 'ERR_JWKS_NO_MATCHING_KEY',
      });
    expect(loads()).toBe(1);
  });

  it('loads keys once for concurrent first requests', async () => {
    const key = await newKey();
    const { verify, loads } = verifier(() => [key.jwk]);
    const token = await key.sign();
    await Promise.all(Array.from({ length: 10 }, () => verify(token)));
    expect(loads()).toBe(1);
  });

  it('refuses a token whose header asks for a symmetric algorithm (algorithm confusion)', async () => {
    const key = await newKey();
    const { verify } = verifier(() => [key.jwk]);
    const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: key.jwk.kid })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`;
    await expect(verify(forged)).rejects.toMatchObject({ code: 'ERR_JWT_INVALID' });
  });

  it('refuses a remembered token once the injected clock passes its expiry', async () => {
    const key = await newKey();
    let now = new Date();
    const { verify } = verifier(() => [key.jwk], { currentDate: () => now });
    const token = await key.sign({}, Math.floor(now.getTime() / 1000) + 60);
    await expect(verify(token)).resolves.toMatchObject({ subject: USER });
    now = new Date(now.getTime() + 61_000);
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
  });

  it('refuses a forged signature even when the claims are those of a remembered token', async () => {
    const key = await newKey();
    const { verify } = verifier(() => [key.jwk]);
    const token = await key.sign();
    await verify(token);
    const [header, payload] = token.split('.');
    await expect(verify(`${header}.${payload}.${'A'.repeat(86)}`)).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('refuses a user token that names no grant, or a grant of another user', async () => {
    const key = await newKey();
    const { verify } = verifier(() => [key.jwk]);
    await expect(verify(await key.sign({ grant_id: undefined }))).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'grant_id',
    });
    await expect(verify(await key.sign({ grant_id: 'g2' }))).rejects.toMatchObject({
      code: 'ERR_GRANT_REVOKED',
    });
  });
});
