import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';

describe.each(databaseKinds())('a rejected refresh changes nothing (%s)', (kind) => {
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

  /** A fresh grant with a refresh token for RESOURCE. */
  async function refreshToken(): Promise<string> {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      resource: RESOURCE,
      scope: 'offline_access mcp:tools:read',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await completeAuthorization({
      authorizationUrl: url.href,
      redirectUri: REDIRECT,
      email: 'dev@example.com',
      password: 'correct horse',
    });
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier },
      { resource: RESOURCE },
    );
    return tokens.refresh_token!;
  }

  async function refresh(token: string, extra: Array<[string, string]> = []) {
    const body = new URLSearchParams([
      ['grant_type', 'refresh_token'],
      ['refresh_token', token],
      ['client_id', 'ide'],
      ...extra,
    ]);
    const res = await fetch(`${t.url}/token`, { method: 'POST', body });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  /** After the failure, the same token refreshes once, and the grant lives on through the new one. */
  async function expectIntact(token: string) {
    const again = await refresh(token, [['resource', RESOURCE]]);
    expect(again.status).toBe(200);
    expect(again.body.refresh_token).toBeTruthy();
    const next = await refresh(again.body.refresh_token!);
    expect(next.status).toBe(200);
    // Rotation still works as before: the token just used is spent.
    expect((await refresh(token)).body.error).toBe('invalid_grant');
  }

  const failures: Array<[string, Array<[string, string]>, string]> = [
    ['an unknown resource', [['resource', 'http://evil.example/mcp']], 'invalid_target'],
    ['a known resource that is not in the grant', [['resource', 'ADMIN']], 'invalid_target'],
    [
      'two different resources',
      [
        ['resource', RESOURCE],
        ['resource', 'ADMIN'],
      ],
      'invalid_target',
    ],
    ['a resource that is not a URL', [['resource', 'not a url']], 'invalid_target'],
    [
      'a scope the grant does not hold',
      [
        ['resource', RESOURCE],
        ['scope', 'mcp:deploy:production'],
      ],
      'invalid_scope',
    ],
  ];

  for (const [what, extra, error] of failures) {
    it(`a refresh with ${what} is refused with ${error} and the refresh token still works`, async () => {
      const token = await refreshToken();
      const params = extra.map(([k, v]): [string, string] => [
        k,
        v === 'ADMIN' ? `${t.url}/admin` : v,
      ]);
      const failed = await refresh(token, params);
      expect(failed.status).toBe(400);
      expect(failed.body.error).toBe(error);
      await expectIntact(token);
    });
  }

  it('the same resource given twice counts once', async () => {
    const token = await refreshToken();
    const ok = await refresh(token, [
      ['resource', RESOURCE],
      ['resource', RESOURCE],
    ]);
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeTruthy();
  });
});
