import { createServer, type Server as HttpServer } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { completeAuthorization } from '../helpers/flows.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const REDIRECT = 'http://127.0.0.1:9/mcp-callback';

/** A stand-in MCP server that only publishes its Protected Resource Metadata (RFC 9728). */
async function startResourceMetadata(issuer: string): Promise<HttpServer> {
  const srv = createServer((req, res) => {
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ resource: RESOURCE, authorization_servers: [issuer], scopes_supported: ['mcp:tools:read', 'mcp:resources:read'] }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  srv.listen(4000);
  await once(srv, 'listening');
  return srv;
}

/** The SDK's client-side storage, with the browser step performed over HTTP. */
class TestProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = '';
  callback?: URL;
  readonly login: { email: string; password: string };
  constructor(login: { email: string; password: string }) {
    this.login = login;
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'SDK test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() { return this.info; }
  saveClientInformation(info: OAuthClientInformationMixed) { this.info = info; }
  tokens() { return this.saved; }
  saveTokens(tokens: OAuthTokens) { this.saved = tokens; }
  async redirectToAuthorization(url: URL) {
    this.callback = await completeAuthorization({ authorizationUrl: url.href, redirectUri: REDIRECT, ...this.login });
  }
  saveCodeVerifier(v: string) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

describe.each(databaseKinds())('MCP SDK client discovery and registration (%s)', (kind) => {
  let t: TestServer;
  let rs: HttpServer;
  beforeAll(async () => {
    t = await startTestServer(kind);
    rs = await startResourceMetadata(t.url);
    await t.server.users.create({ email: 'viewer@example.com', password: 'viewer password', roles: ['viewer'] });
  });
  afterAll(async () => {
    rs?.close();
    await t?.close();
  });

  it('completes the SDK auth() flow with DCR and gets a token for the MCP resource', async () => {
    const provider = new TestProvider({ email: 'viewer@example.com', password: 'viewer password' });
    expect(await auth(provider, { serverUrl: RESOURCE })).toBe('REDIRECT');
    expect(provider.info?.client_id).toBeTruthy(); // registered dynamically
    const code = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: RESOURCE, authorizationCode: code })).toBe('AUTHORIZED');
    const claims = decodeJwt(provider.saved!.access_token);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.iss).toBe(t.url);
    expect(String(claims.scope).split(' ')).toEqual(expect.arrayContaining(['mcp:tools:read', 'mcp:resources:read']));
    expect(claims.roles).toEqual(['viewer']);
  });
});
