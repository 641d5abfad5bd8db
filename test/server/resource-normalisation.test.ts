import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';

// Resources as the catalogue spells them; clients send equivalent spellings (RFC 3986 §6.2.2).
const LOCAL = 'http://localhost:4000/mcp';
const REMOTE = 'https://mcp.example.com/tools';
const REDIRECT = 'http://127.0.0.1:9/callback';

const SPELLINGS: Array<[string, string, string]> = [
  ['upper-case scheme and host', 'HTTP://LOCALHOST:4000/mcp', LOCAL],
  ['a trailing slash', 'http://localhost:4000/mcp/', LOCAL],
  ['percent-encoded unreserved characters', 'http://localhost:4000/%6D%63%70', LOCAL],
  ['a dot segment', 'http://localhost:4000/./mcp', LOCAL],
  ['an explicit default port', 'https://mcp.example.com:443/tools', REMOTE],
  [
    'an upper-case host with a default port and a trailing slash',
    'HTTPS://MCP.Example.COM:443/tools/',
    REMOTE,
  ],
];

describe.each(databaseKinds())('resource identifiers compared after normalisation (%s)', (kind) => {
  let t: TestServer;
  let dir: string;
  let config: client.Configuration;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpe-scopes-'));
    const catalogue = JSON.parse(await readFile('scopes.json', 'utf8'));
    delete catalogue.$schema;
    catalogue.resources[REMOTE] = {
      name: 'Remote tools',
      scopes: ['mcp:tools:read', 'mcp:resources:read'],
    };
    await writeFile(join(dir, 'scopes.json'), JSON.stringify(catalogue));
    t = await startTestServer(kind, { SCOPES_FILE: join(dir, 'scopes.json') });
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
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'bot',
      secret: 'bot-secret-123456',
      roles: ['viewer'],
    });
    config = await client.discovery(new URL(t.url), 'ide', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [what, spelling, known] of SPELLINGS) {
    it(`a resource spelled with ${what} gets a token (and a refresh) for the catalogue's spelling`, async () => {
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        resource: spelling,
        scope: 'offline_access',
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
      expect(callback.searchParams.get('error')).toBeNull();
      const tokens = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier },
        { resource: spelling },
      );
      expect(decodeJwt(tokens.access_token).aud).toBe(known);
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, {
        resource: spelling,
      });
      expect(decodeJwt(refreshed.access_token).aud).toBe(known);
    });
  }

  it("client_credentials accepts any equivalent spelling and issues the catalogue's", async () => {
    for (const [, spelling, known] of SPELLINGS) {
      const res = await fetch(`${t.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('bot:bot-secret-123456').toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: spelling,
          scope: 'mcp:tools:read',
        }),
      });
      expect(res.status).toBe(200);
      expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).aud).toBe(
        known,
      );
    }
  });

  it('the rewritten body reaches the token endpoint whole, sent with or without a length', async () => {
    const form = (resource: string) =>
      new URLSearchParams({
        grant_type: 'client_credentials',
        resource,
        scope: 'mcp:tools:read',
      }).toString();
    const headers = {
      authorization: `Basic ${Buffer.from('bot:bot-secret-123456').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    };
    // Chunked (no Content-Length), in two pieces: the rewritten body is longer than the one sent.
    const spelling = 'http://localhost:4000/%6D%63%70';
    const [head, tail] = [form(spelling).slice(0, 20), form(spelling).slice(20)];
    const chunked = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers,
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(head));
          controller.enqueue(new TextEncoder().encode(tail));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(200);
    expect(decodeJwt(((await chunked.json()) as { access_token: string }).access_token).aud).toBe(
      LOCAL,
    );
    // With a length, and the parameters around the rewritten one kept as they were.
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers,
      body: form('HTTPS://MCP.Example.COM:443/tools/'),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(decodeJwt(body.access_token).aud).toBe(REMOTE);
    expect(body.scope.split(' ')).toContain('mcp:tools:read');
  });

  it('spellings that name another resource stay unknown: invalid_target', async () => {
    for (const other of [
      'http://localhost:4001/mcp',
      'https://localhost:4000/mcp',
      'http://localhost:4000/MCP',
      'http://localhost:4000/mcp#x',
      'http://user@localhost:4000/mcp',
    ]) {
      const res = await fetch(`${t.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('bot:bot-secret-123456').toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: other,
          scope: 'mcp:tools:read',
        }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
    }
  });
});
