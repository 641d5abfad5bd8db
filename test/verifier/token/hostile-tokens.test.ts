import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, exportSPKI, SignJWT } from 'jose';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { startGuardedServer, send, type Started } from '../http/fixtures.ts';
import { makeKey, RESOURCE, signAccessToken, startIssuer, type TestIssuer } from './fixtures.ts';

let issuer: TestIssuer;
let mcp: Started & { reached: () => number };

beforeAll(async () => {
  issuer = await startIssuer();
  const verifier = createTokenVerifier({
    issuer: issuer.issuer,
    resource: RESOURCE,
    jwksCooldownMs: 0,
  });
  mcp = await startGuardedServer({ verifier });
});
afterAll(async () => {
  await mcp.close();
  await issuer.close();
});

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
const now = () => Math.floor(Date.now() / 1000);

function claims(extra: Record<string, unknown> = {}) {
  return {
    iss: issuer.issuer,
    aud: RESOURCE,
    client_id: 'agent-1',
    sub: 'user-1',
    scope: 'mcp:read',
    iat: now(),
    exp: now() + 600,
    ...extra,
  };
}

/** Presents `token` and expects a 401 invalid_token challenge; the MCP handler is never reached. */
async function expectRefused(token: string) {
  const before = mcp.reached();
  const reply = await send(`${mcp.url}/mcp`, { headers: { Authorization: `Bearer ${token}` } });
  expect(reply.status).toBe(401);
  expect(reply.json().error).toBe('invalid_token');
  expect(reply.headers['www-authenticate']).toMatch(
    /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="/,
  );
  expect(mcp.reached()).toBe(before);
  return reply.json().error_description as string;
}

describe('hostile access tokens are answered 401 invalid_token, never 500', () => {
  it('accepts a well-formed token (control case)', async () => {
    const reply = await send(`${mcp.url}/mcp`, {
      headers: { Authorization: `Bearer ${await signAccessToken(issuer)}` },
    });
    expect(reply.status).toBe(200);
  });

  it('refuses an unsecured token (alg: none)', async () => {
    const token = `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(claims())}.`;
    expect(await expectRefused(token)).toBe('algorithm not allowed');
  });

  it('refuses HS256 signed with the public key bytes (algorithm confusion)', async () => {
    const secrets = [
      new TextEncoder().encode(await exportSPKI(issuer.key.publicKey)),
      new TextEncoder().encode(JSON.stringify(issuer.key.jwk)),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' })
        .sign(secret);
      expect(await expectRefused(token)).toBe('algorithm not allowed');
    }
  });

  it('refuses a token whose kid is not in the issuer key set', async () => {
    const stranger = await makeKey('unknown-kid');
    expect(await expectRefused(await signAccessToken(issuer, {}, { key: stranger }))).toBe(
      'unknown signing key',
    );
  });

  it('refuses an expired token', async () => {
    expect(await expectRefused(await signAccessToken(issuer, { exp: now() - 60 }))).toBe(
      'token expired',
    );
  });

  it('refuses a token whose nbf lies beyond the leeway', async () => {
    expect(await expectRefused(await signAccessToken(issuer, { nbf: now() + 60 }))).toBe(
      'token not yet valid',
    );
  });

  it('refuses a token for another resource', async () => {
    expect(
      await expectRefused(await signAccessToken(issuer, { aud: 'https://other.example.com/mcp' })),
    ).toBe('token not issued for this resource');
  });

  it('refuses a token meant for several resources at once', async () => {
    expect(
      await expectRefused(
        await signAccessToken(issuer, { aud: [RESOURCE, 'https://other.example.com/mcp'] }),
      ),
    ).toBe('token not issued for this resource');
  });

  it('refuses a token from another issuer, even signed with a trusted key', async () => {
    expect(
      await expectRefused(await signAccessToken(issuer, { iss: 'https://evil.example.com' })),
    ).toBe('unexpected issuer');
  });

  it('refuses typ JWT where at+jwt is required (an ID token is not an access token)', async () => {
    expect(await expectRefused(await signAccessToken(issuer, {}, { header: { typ: 'JWT' } }))).toBe(
      'unexpected token type',
    );
  });

  it('accepts typ application/at+jwt in any case', async () => {
    const token = await signAccessToken(issuer, {}, { header: { typ: 'Application/AT+JWT' } });
    expect(
      (await send(`${mcp.url}/mcp`, { headers: { Authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
  });

  it('refuses a truncated token', async () => {
    const token = await signAccessToken(issuer);
    await expectRefused(token.slice(0, -12));
    await expectRefused(token.slice(0, token.lastIndexOf('.')));
  });

  it('refuses an oversized token without parsing it', async () => {
    const token = await signAccessToken(issuer, {}, { header: { pad: 'x'.repeat(9000) } });
    expect(await expectRefused(token)).toBe('token too large');
  });

  it('refuses segments that are not base64url', async () => {
    expect(await expectRefused('e$J.e%J.abc')).toBe('malformed token');
    expect(await expectRefused('a.b.c!d')).toBe('malformed token');
  });

  it('refuses base64url segments that are not JSON', async () => {
    expect(
      await expectRefused(`${base64url.encode('not json')}.${base64url.encode('{')}.c2ln`),
    ).toBe('malformed token');
  });

  it('refuses a token signed by a different key under a trusted kid', async () => {
    const impostor = await makeKey('k1');
    expect(await expectRefused(await signAccessToken(issuer, {}, { key: impostor }))).toBe(
      'signature verification failed',
    );
  });

  it('refuses a token without client_id', async () => {
    expect(await expectRefused(await signAccessToken(issuer, { client_id: undefined }))).toBe(
      'missing client_id claim',
    );
  });

  it('refuses a token without exp', async () => {
    expect(await expectRefused(await signAccessToken(issuer, { exp: undefined }))).toBe(
      'missing exp claim',
    );
  });

  it('refuses a confirmation (cnf) it cannot check instead of taking the token as unbound', async () => {
    for (const cnf of [
      {},
      'jkt',
      { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
      { jkt: 7 },
      { jkt: '' },
    ]) {
      expect(await expectRefused(await signAccessToken(issuer, { cnf })), JSON.stringify(cnf)).toBe(
        'unsupported or malformed cnf claim',
      );
    }
  });
});
