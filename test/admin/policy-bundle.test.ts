import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startAdminFixture, type AdminFixture } from './fixture.ts';

type Bundle = {
  iss: string;
  iat: number;
  version: string;
  catalogue: { baseScopes: string[]; scopes: Record<string, unknown> };
  roles: Array<{ name: string; inherits: string[] }>;
};

describe.each(databaseKinds())('policy bundle (%s)', (kind) => {
  let f: AdminFixture;
  let url: string;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    url = `${f.t.url}/policy/v1/bundle`;
  });
  afterAll(async () => f?.close());

  async function fetchBundle() {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jwks = createRemoteJWKSet(new URL(`${f.t.url}/jwks`));
    const jws = await res.text();
    const { payload } = await jwtVerify<Bundle>(jws, jwks, {
      issuer: f.t.url,
      typ: 'policy+jwt',
      algorithms: ['ES256'],
    });
    return { jws, payload, etag: res.headers.get('etag')! };
  }

  it("is a policy+jwt JWS, signed with the current key, that verifies with the server's JWKS over HTTP and needs no token", async () => {
    const { jws, payload } = await fetchBundle();
    const header = decodeProtectedHeader(jws);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'policy+jwt' });
    const jwks = (await (await fetch(`${f.t.url}/jwks`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(header.kid).toBe(jwks.keys[0]!.kid);
    expect(Object.keys(payload).sort()).toEqual(['catalogue', 'iat', 'iss', 'roles', 'version']);
    expect(payload.catalogue.baseScopes).toEqual(f.t.server.catalogue.baseScopes);
    expect(Object.keys(payload.catalogue.scopes)).toContain('mcp:deploy:production');
    expect(payload.catalogue).not.toHaveProperty('$schema');
    expect(payload.roles.find((r) => r.name === 'developer')).toMatchObject({
      inherits: ['viewer'],
    });
  });

  it('keeps its ETag across fetches and answers a matching If-None-Match with 304', async () => {
    const first = await fetchBundle();
    const second = await fetchBundle();
    expect(first.etag).toMatch(/^W\/"[0-9a-f]{32}"$/);
    expect(second.etag).toBe(first.etag);
    expect(second.payload.version).toBe(first.payload.version);

    const cached = await fetch(url, { headers: { 'if-none-match': first.etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('etag')).toBe(first.etag);
    expect((await fetch(url, { headers: { 'if-none-match': 'W/"something-else"' } })).status).toBe(
      200,
    );
  });

  it('gets a new version and ETag when an admin changes a role', async () => {
    const before = await fetchBundle();
    const token = await f.token();
    const res = await f.api('PATCH', '/roles/viewer', {
      token,
      json: { description: 'Looks, never touches' },
    });
    expect(res.status).toBe(200);

    const after = await fetchBundle();
    expect(after.payload.version).not.toBe(before.payload.version);
    expect(after.etag).not.toBe(before.etag);
    expect(after.payload.roles.find((r) => r.name === 'viewer')).toMatchObject({
      description: 'Looks, never touches',
    });
    expect((await fetch(url, { headers: { 'if-none-match': before.etag } })).status).toBe(200);
  });
});
