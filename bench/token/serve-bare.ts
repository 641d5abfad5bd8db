/**
 * Token-endpoint baseline: bare oidc-provider with its default in-memory adapter, the same
 * client_credentials client and resource, JWT access tokens signed with ES256 as ours are.
 * Nothing of mcp-elevate is involved: no database, no middleware, no extra claims.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { CLIENT_ID, RESOURCE, freePort, serveTarget } from './protocol.ts';

await serveTarget(async () => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const key = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    // The only key is ES256, so the default RS256 for ID tokens would make the client invalid.
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: { keys: [key] },
    // Ours issues base tokens for 1 h (ACCESS_TOKEN_TTL default): same lifetime, same work.
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        async getResourceServerInfo(_ctx, resource) {
          if (resource !== RESOURCE) throw new Error(`unexpected resource ${resource}`);
          return {
            scope: 'mcp:tools:read mcp:resources:read',
            audience: RESOURCE,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });
  const http = provider.listen(port, '127.0.0.1');
  await once(http, 'listening');
  return {
    url: issuer,
    clientSecret,
    async close() {
      const closed = once(http, 'close');
      http.close();
      http.closeIdleConnections();
      await closed;
    },
  };
});
