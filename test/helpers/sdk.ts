import { createServer, type Server as HttpServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { completeAuthorization } from './flows.ts';

export const SDK_REDIRECT = 'http://127.0.0.1:9/mcp-callback';

/**
 * A stand-in MCP server publishing only its Protected Resource Metadata (RFC 9728) for `resource`,
 * on an ephemeral port; pass its `url` to the SDK as `resourceMetadataUrl`.
 */
export async function startResourceMetadata(
  resource: string,
  issuer: string,
  scopes = ['mcp:tools:read', 'mcp:resources:read'],
): Promise<{ url: URL; close(): void }> {
  const srv: HttpServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ resource, authorization_servers: [issuer], scopes_supported: scopes }),
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`),
    close: () => srv.close(),
  };
}

/** The SDK's client-side storage, with the browser step performed over HTTP as `login`. */
export class TestOAuthProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = '';
  callback?: URL;
  readonly login: { email: string; password: string; justification?: string };

  constructor(login: { email: string; password: string; justification?: string }) {
    this.login = login;
  }

  get redirectUrl() {
    return SDK_REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK test client',
      redirect_uris: [SDK_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.callback = await completeAuthorization({
      authorizationUrl: url.href,
      redirectUri: SDK_REDIRECT,
      ...this.login,
    });
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}
