import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';

describe.each(databaseKinds())('authorization code flow with PKCE (%s)', (kind) => {
  let t: TestServer;
  let config: client.Configuration;

  beforeAll(async () => {
    t = await startTestServer(kind);
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'correct horse',
      roles: ['developer'],
    });
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'ide',
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token'],
    });
    config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => t?.close());

  async function authorize(params: Record<string, string>, verifier?: string) {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: RESOURCE,
      ...params,
    });
    const callback = await completeAuthorization({
      authorizationUrl: url.href,
      redirectUri: REDIRECT,
      email: 'dev@example.com',
      password: 'correct horse',
    });
    return { callback, verifier };
  }

  it('issues an RFC 9068 JWT for the MCP resource with base scopes and roles', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const state = client.randomState();
    const { callback } = await authorize({
      scope: 'openid mcp:tools:read offline_access',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
    });
    expect(callback.searchParams.get('iss')).toBe(t.url); // RFC 9207
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource: RESOURCE },
    );
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header.typ).toBe('at+jwt');
    expect(header.alg).toBe('ES256');
    const jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: t.url,
      audience: RESOURCE,
      typ: 'at+jwt',
    });
    expect(payload.aud).toBe(RESOURCE);
    expect(String(payload.scope).split(' ').sort()).toEqual([
      'mcp:resources:read',
      'mcp:tools:read',
    ]);
    expect(payload.roles).toEqual(expect.arrayContaining(['developer', 'viewer']));
    expect(payload.client_id).toBe('ide');
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(tokens.scope?.split(' ')).toEqual(
      expect.arrayContaining(['mcp:resources:read', 'mcp:tools:read']),
    );
  });

  it('refuses an authorization request without PKCE', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: RESOURCE,
      scope: 'mcp:tools:read',
    });
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses the plain PKCE method', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: RESOURCE,
      scope: 'mcp:tools:read',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a wrong code verifier and a reused code', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const { callback } = await authorize({
      scope: 'mcp:tools:read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const code = callback.searchParams.get('code')!;
    const exchange = (v: string) =>
      fetch(`${t.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          code_verifier: v,
          client_id: 'ide',
          resource: RESOURCE,
        }),
      });
    const wrong = await exchange(client.randomPKCECodeVerifier());
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_grant');
    // The failed attempt did not consume the code…
    const ok = await exchange(verifier);
    expect(ok.status).toBe(200);
    // …but a successful one did: a reused code is refused.
    const reused = await exchange(verifier);
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('refuses a redirect URI that is not registered exactly', async () => {
    for (const redirect of [
      `${REDIRECT}/`,
      `${REDIRECT}?x=1`,
      'http://127.0.0.1:9/other',
      REDIRECT.toUpperCase(),
    ]) {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirect,
        resource: RESOURCE,
        scope: 'mcp:tools:read',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      });
      const res = await fetch(url, { redirect: 'manual' });
      // No redirect to an unregistered URI: the error is shown on the server's own page.
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('redirect_uri');
    }
  });

  it('refuses an unknown resource with invalid_target', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: 'http://evil.example/mcp',
      scope: 'mcp:tools:read',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_target');
  });

  it('rotates refresh tokens and refuses the old one', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const { callback } = await authorize({
      scope: 'openid offline_access mcp:tools:read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier },
      { resource: RESOURCE },
    );
    expect(tokens.refresh_token).toBeTruthy();
    const next = await client.refreshTokenGrant(config, tokens.refresh_token!, {
      resource: RESOURCE,
    });
    expect(next.refresh_token).toBeTruthy();
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    await expect(
      client.refreshTokenGrant(config, tokens.refresh_token!, { resource: RESOURCE }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
