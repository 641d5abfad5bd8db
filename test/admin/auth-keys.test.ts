import { describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AdminAuthenticator, type AdminAuthOptions } from '../../src/admin/index.ts';
import type { PrivateJwk } from '../../src/keys/keystore.ts';
import type { User } from '../../src/accounts/users.ts';

const ISSUER = 'https://as.example';
const AUDIENCE = `${ISSUER}/admin`;
const admin: User = { id: 'u1', email: 'a@example.com', name: 'A', disabled: false, attributes: {}, roles: ['admin'], groups: [] };

async function newKey(): Promise<{ jwk: PrivateJwk; sign: (claims?: Record<string, unknown>) => Promise<string> }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const exported = await exportJWK(privateKey);
  const jwk = { ...exported, kid: await calculateJwkThumbprint(exported), alg: 'ES256', use: 'sig' as const };
  const sign = (claims = {}) => new SignJWT({ scope: 'mcp:admin', client_id: 'cli', ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(admin.id).setIssuedAt().setExpirationTime('5m').sign(privateKey);
  return { jwk, sign };
}

function authenticator(keys: () => PrivateJwk[], opts: Partial<AdminAuthOptions> = {}) {
  let loads = 0;
  const auth = new AdminAuthenticator({
    issuer: ISSUER, audience: AUDIENCE,
    loadKeys: async () => { loads++; return keys(); },
    findUser: async (id) => (id === admin.id ? admin : undefined),
    effectiveRoles: async () => ['admin', 'senior_developer'],
    ...opts,
  });
  return { auth, loads: () => loads };
}

describe('admin token keys', () => {
  it('accepts a token signed by a key that appeared after the keys were loaded (rotation by another instance)', async () => {
    const first = await newKey();
    const second = await newKey();
    let published = [first.jwk];
    const { auth, loads } = authenticator(() => published, { reloadIntervalMs: 0 });
    await expect(auth.authenticate(`Bearer ${await first.sign()}`)).resolves.toEqual({ userId: admin.id, clientId: 'cli' });
    published = [second.jwk, first.jwk];
    await expect(auth.authenticate(`Bearer ${await second.sign()}`)).resolves.toMatchObject({ userId: admin.id });
    expect(loads()).toBe(2);
  });

  it('reloads keys for unknown kids at most once per interval, so garbage kids cannot hammer the database', async () => {
    const known = await newKey();
    const stranger = await newKey();
    const { auth, loads } = authenticator(() => [known.jwk], { reloadIntervalMs: 60_000 });
    await auth.authenticate(`Bearer ${await known.sign()}`);
    for (let i = 0; i < 5; i++) {
      await expect(auth.authenticate(`Bearer ${await stranger.sign()}`)).rejects.toMatchObject({ status: 401, code: 'invalid_token' });
    }
    expect(loads()).toBe(1);
  });

  it('loads keys once for concurrent first requests', async () => {
    const key = await newKey();
    const { auth, loads } = authenticator(() => [key.jwk]);
    const token = await key.sign();
    await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(`Bearer ${token}`)));
    expect(loads()).toBe(1);
  });

  it('refuses a token whose header asks for a symmetric algorithm (algorithm confusion)', async () => {
    const key = await newKey();
    const { auth } = authenticator(() => [key.jwk]);
    const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: key.jwk.kid })).toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`;
    await expect(auth.authenticate(`Bearer ${forged}`)).rejects.toMatchObject({ status: 401, code: 'invalid_token' });
  });
});
