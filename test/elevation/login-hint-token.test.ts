import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { errors } from 'oidc-provider';
import { beforeAll, describe, expect, it } from 'vitest';
import { cibaFeature, type CibaDeps } from '../../src/elevation/ciba.ts';

// processLoginHintToken as oidc-provider calls it, with tokens signed by a key of "this server".
describe('CIBA login_hint_token: a verified token is remembered only while it is valid', () => {
  const issuer = 'https://as.example.test';
  let sign: (claims: Record<string, unknown>, expSeconds: number) => Promise<string>;
  let feature: ReturnType<typeof cibaFeature>;
  const ctx = (clientId: string) => ({ oidc: { client: { clientId } } }) as never;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    sign = (claims, expSeconds) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(issuer).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds).sign(privateKey);
    feature = cibaFeature({ issuer, publicJwks: () => ({ keys: [jwk] }) } as unknown as CibaDeps);
  });

  it('answers the user of a valid token, again from memory, and refuses it to another client each time', async () => {
    const token = await sign({ sub: 'user-1', client_id: 'agent' }, 60);
    expect(await feature.processLoginHintToken(ctx('agent'), token)).toBe('user-1');
    expect(await feature.processLoginHintToken(ctx('agent'), token)).toBe('user-1');
    await expect(feature.processLoginHintToken(ctx('other-agent'), token)).rejects.toBeInstanceOf(errors.InvalidRequest);
  });

  it('refuses a remembered token once it has expired', async () => {
    const token = await sign({ sub: 'user-2', client_id: 'agent' }, 1);
    expect(await feature.processLoginHintToken(ctx('agent'), token)).toBe('user-2');
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(feature.processLoginHintToken(ctx('agent'), token)).rejects.toBeInstanceOf(errors.ExpiredLoginHintToken);
  });

  it('refuses a token whose signature is not this server\'s, even with the claims of a remembered one', async () => {
    const token = await sign({ sub: 'user-3', client_id: 'agent' }, 60);
    expect(await feature.processLoginHintToken(ctx('agent'), token)).toBe('user-3');
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    await expect(feature.processLoginHintToken(ctx('agent'), forged)).rejects.toBeInstanceOf(errors.InvalidRequest);
  });
});
