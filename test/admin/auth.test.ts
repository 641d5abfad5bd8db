import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { adminResource } from '../../src/oidc/provider.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

describe.each(databaseKinds())('admin API authentication (%s)', (kind) => {
  let f: AdminFixture;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    await f.t.server.users.create({
      email: 'dev@example.com',
      password: 'dev password 1',
      roles: ['developer'],
    });
  });
  afterAll(async () => f?.close());

  it('accepts an mcp:admin token of an admin obtained through login and consent', async () => {
    const res = await f.api('GET', '/roles', { token: await f.token() });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a request without a token with 401 and a bare Bearer challenge', async () => {
    for (const headers of [{}, { authorization: 'Basic YWRtaW46YWRtaW4=' }] as Array<
      Record<string, string>
    >) {
      const res = await f.api('GET', '/roles', { headers });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toMatch(/^Bearer realm="/);
      expect(challenge).not.toContain('error=');
      expect((await problem(res)).status).toBe(401);
    }
  });

  it('refuses an expired token with 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await f.api('GET', '/roles', {
      token: await f.forge({ exp: now - 120, iat: now - 1000 }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="[^"]+", error="invalid_token", error_description="the token has expired"$/,
    );
    expect((await problem(res)).code).toBe('invalid_token');
  });

  it('refuses a real token issued for another resource with 401 invalid_token', async () => {
    const token = await f.token({ scope: 'mcp:tools:read', resource: MCP_RESOURCE });
    const res = await f.api('GET', '/roles', { token });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await problem(res)).detail).toBe('the token is not for the admin API');
  });

  it('refuses tokens signed by a foreign key, of the wrong typ, DPoP-bound or malformed with 401 invalid_token', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ scope: 'mcp:admin', sub: f.adminId })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'foreign' })
      .setIssuer(f.t.url)
      .setAudience(adminResource(f.t.url))
      .setExpirationTime('5m')
      .sign(privateKey);
    const tokens = [
      foreign,
      await f.forge({}, { typ: 'JWT' }),
      await f.forge({ cnf: { jkt: 'x'.repeat(43) } }),
      'not-a-jwt',
    ];
    for (const token of tokens) {
      const res = await f.api('GET', '/roles', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await problem(res);
    }
  });

  it('refuses an admin token without mcp:admin with 403 insufficient_scope naming the scope', async () => {
    const token = await f.token({ scope: 'mcp:tools:read' });
    const res = await f.api('GET', '/roles', { token });
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toMatch(/scope="[^"]*mcp:admin[^"]*"/);
    expect((await problem(res)).code).toBe('insufficient_scope');
  });

  it("refuses a developer's base-scope token for the admin resource with 403", async () => {
    const token = await f.token({
      email: 'dev@example.com',
      password: 'dev password 1',
      scope: 'mcp:tools:read',
    });
    const res = await f.api('GET', '/users', { token });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('re-checks the user in the database: a non-admin or client subject is refused with 403, an unknown one with 401, even with mcp:admin', async () => {
    const dev = (await f.t.server.users.list()).find((u) => u.email === 'dev@example.com')!;
    for (const [claims, status, error] of [
      [{ sub: dev.id }, 403, 'insufficient_scope'],
      [{ sub: 'no-such-user' }, 401, 'invalid_token'],
      [{ sub: 'admin-cli' }, 403, 'insufficient_scope'],
    ] as const) {
      const res = await f.api('GET', '/roles', { token: await f.forge(claims) });
      expect(res.status).toBe(status);
      expect(res.headers.get('www-authenticate')).toContain(`error="${error}"`);
    }
  });

  it('refuses an admin who lost the admin role or was disabled since their token was issued', async () => {
    const admin = await f.token();
    const other = await f.t.server.users.create({
      email: 'second-admin@example.com',
      password: 'second admin 1',
      roles: ['admin'],
    });
    const token = await f.token({ email: 'second-admin@example.com', password: 'second admin 1' });
    expect((await f.api('GET', '/roles', { token })).status).toBe(200);

    expect(
      (
        await f.api('PUT', `/users/${other.id}/roles`, {
          token: admin,
          json: { roles: ['developer'] },
        })
      ).status,
    ).toBe(200);
    expect((await f.api('GET', '/roles', { token })).status).toBe(403);

    expect(
      (await f.api('PUT', `/users/${other.id}/roles`, { token: admin, json: { roles: ['admin'] } }))
        .status,
    ).toBe(200);
    expect((await f.api('GET', '/roles', { token })).status).toBe(200);
    expect(
      (await f.api('PATCH', `/users/${other.id}`, { token: admin, json: { disabled: true } }))
        .status,
    ).toBe(200);
    const res = await f.api('GET', '/roles', { token });
    expect(res.status).toBe(403);
    expect((await problem(res)).detail).toBe('the user is unknown or disabled');
  });
});
