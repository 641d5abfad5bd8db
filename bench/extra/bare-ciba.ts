/**
 * Elevation baseline: bare oidc-provider with its default in-memory adapter and CIBA enabled in
 * poll mode, answering the same CIBA request and first poll as mcp-elevate does for an elevation
 * without approval, and nothing more: one static client, one account, no database, no policy, no
 * audit, no extra claims. `BENCH_BARE` (JSON, see {@link BareSettings}) names the client, the
 * resource and the scope.
 *
 * - `login_hint_token`: a JWT this process signs at start for the one account; each request
 *   verifies it (ES256 signature, issuer, audience), as mcp-elevate verifies its own access token.
 * - `triggerAuthenticationDevice` approves at once: a grant of `openid` and the scope for the
 *   resource, handed to `backchannelResult`, so the first poll returns the token.
 * - Access tokens are JWTs for the resource, signed ES256, as ours are.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { serveChild } from './ipc.ts';

/** What the driver tells this target. */
export interface BareSettings {
  clientId: string;
  clientSecret: string;
  resource: string;
  /** The scope elevations ask for, granted at once. */
  scope: string;
}

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const ACCOUNT = 'bench-developer';

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

await serveChild(async () => {
  const settings = JSON.parse(process.env.BENCH_BARE ?? 'null') as BareSettings | null;
  if (settings === null) throw new TypeError('BENCH_BARE must describe the client and resource');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const key = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
  const loginHintToken = await new SignJWT({ client_id: settings.clientId })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
    .setIssuer(issuer)
    .setSubject(ACCOUNT)
    .setAudience(settings.resource)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);

  const provider: Provider = new Provider(issuer, {
    clients: [
      {
        client_id: settings.clientId,
        client_secret: settings.clientSecret,
        grant_types: [CIBA_GRANT],
        response_types: [],
        redirect_uris: [],
        backchannel_token_delivery_mode: 'poll',
      },
    ],
    // The only key is ES256, so the default RS256 for ID tokens would make the client invalid.
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: { keys: [key] },
    // Lifetimes as ours has them for this scope (an elevated token lives its scope's expiresIn).
    ttl: {
      AccessToken: 3600,
      IdToken: 3600,
      Grant: 14 * 24 * 3600,
      BackchannelAuthenticationRequest: 300,
    },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: () => ({ sub: id }) };
    },
    features: {
      devInteractions: { enabled: false },
      ciba: {
        enabled: true,
        deliveryModes: ['poll'],
        async processLoginHintToken(_ctx: KoaContextWithOIDC, token?: string) {
          if (token === undefined) return undefined;
          const { payload } = await jwtVerify(token, publicKey, {
            issuer,
            audience: settings.resource,
            typ: 'at+jwt',
          });
          return payload.sub;
        },
        async processLoginHint() {
          return undefined;
        },
        // The benchmark's binding messages carry a justification with spaces, as ours accept.
        async validateBindingMessage() {},
        async validateRequestContext() {},
        async verifyUserCode() {},
        async triggerAuthenticationDevice(
          _ctx: KoaContextWithOIDC,
          request: any,
          account: { accountId: string },
          client: { clientId: string },
        ) {
          const grant = new provider.Grant({
            clientId: client.clientId,
            accountId: account.accountId,
          });
          grant.addOIDCScope('openid');
          grant.addResourceScope(settings.resource, settings.scope);
          await grant.save();
          await provider.backchannelResult(request, grant);
        },
      },
      resourceIndicators: {
        enabled: true,
        async getResourceServerInfo(_ctx, resource) {
          if (resource !== settings.resource) throw new Error(`unexpected resource ${resource}`);
          return {
            scope: settings.scope,
            audience: settings.resource,
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
    info: { url: issuer, loginHintToken },
    async close() {
      const closed = once(http, 'close');
      http.close();
      http.closeIdleConnections();
      await closed;
    },
  };
});
