import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { TestOAuthProvider, startResourceMetadata } from '../helpers/sdk.ts';

const RESOURCE = 'http://localhost:4000/mcp';

describe.each(databaseKinds())('MCP SDK client discovery and registration (%s)', (kind) => {
  let t: TestServer;
  let prm: Awaited<ReturnType<typeof startResourceMetadata>>;
  beforeAll(async () => {
    t = await startTestServer(kind);
    prm = await startResourceMetadata(RESOURCE, t.url);
    await t.server.users.create({
      email: 'viewer@example.com',
      password: 'viewer password',
      roles: ['viewer'],
    });
  });
  afterAll(async () => {
    prm?.close();
    await t?.close();
  });

  it('completes the SDK auth() flow with DCR and gets a token for the MCP resource', async () => {
    const provider = new TestOAuthProvider({
      email: 'viewer@example.com',
      password: 'viewer password',
    });
    expect(await auth(provider, { serverUrl: RESOURCE, resourceMetadataUrl: prm.url })).toBe(
      'REDIRECT',
    );
    expect(provider.info?.client_id).toBeTruthy(); // registered dynamically
    const code = provider.callback!.searchParams.get('code')!;
    expect(
      await auth(provider, {
        serverUrl: RESOURCE,
        resourceMetadataUrl: prm.url,
        authorizationCode: code,
      }),
    ).toBe('AUTHORIZED');
    const claims = decodeJwt(provider.saved!.access_token);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.iss).toBe(t.url);
    expect(String(claims.scope).split(' ')).toEqual(
      expect.arrayContaining(['mcp:tools:read', 'mcp:resources:read']),
    );
    expect(claims.roles).toEqual(['viewer']);
  });
});
