import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { HttpBrowser } from '../helpers/browser.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { runCli } from '../helpers/cli.ts';
import { registerClient } from '../../src/oidc/clients.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback';

async function clientCredentialsToken(url: string): Promise<string> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from('bot:bot-secret-1234').toString('base64'),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe.each(databaseKinds())('state survives a restart (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind);
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'correct horse',
      roles: ['developer'],
    });
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'bot',
      secret: 'bot-secret-1234',
      roles: ['viewer'],
    });
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'ide',
      redirectUris: [REDIRECT],
    });
  });
  afterAll(async () => t?.close());

  it('keeps users, clients, keys and sessions; old tokens verify against the published JWKS', async () => {
    const before = await clientCredentialsToken(t.url);
    const config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const authUrl = async () =>
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: RESOURCE,
        scope: 'mcp:tools:read',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).href;
    const browser = new HttpBrowser();
    await completeAuthorization({
      authorizationUrl: await authUrl(),
      redirectUri: REDIRECT,
      email: 'dev@example.com',
      password: 'correct horse',
      browser,
    });

    t = await t.restart();

    // Key and token: the token from before verifies against the JWKS served after.
    const jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
    await expect(
      jwtVerify(before, jwks, { issuer: t.url, audience: RESOURCE }),
    ).resolves.toBeTruthy();
    expect(decodeProtectedHeader(await clientCredentialsToken(t.url)).kid).toBe(
      decodeProtectedHeader(before).kid,
    );
    // User and session: the same browser is sent straight back with a code, no login page.
    const step = await browser.follow(await authUrl(), REDIRECT);
    expect(step.url.startsWith(REDIRECT)).toBe(true);
    expect(new URL(step.url).searchParams.get('code')).toBeTruthy();
    expect((await t.server.users.findCredentials('DEV@example.com'))?.email).toBe(
      'dev@example.com',
    );
  });

  it('rotates keys with the CLI and keeps the old key published', async () => {
    const before = await clientCredentialsToken(t.url);
    await t.stop();
    const res = await runCli(['keys', 'rotate'], { DATA_DIR: t.dataDir, DATABASE_URL: t.db.url });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/new signing key/);
    t = await t.restart();
    const keys = (
      (await (await fetch(`${t.url}/jwks`)).json()) as { keys: Array<{ kid: string; d?: string }> }
    ).keys;
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.d === undefined)).toBe(true); // only public parts are published
    const after = await clientCredentialsToken(t.url);
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    const jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
    await expect(
      jwtVerify(before, jwks, { issuer: t.url, audience: RESOURCE }),
    ).resolves.toBeTruthy();
    await expect(
      jwtVerify(after, jwks, { issuer: t.url, audience: RESOURCE }),
    ).resolves.toBeTruthy();
  });
});
