import type { Kysely } from 'kysely';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { RoleService } from '../roles/role-service.ts';
import { SIGNING_ALG, type PrivateJwk } from '../keys/keystore.ts';
import { createAdapterFactory } from './adapter.ts';
import { accessTokenTtl, withBaseScopes } from './tokens.ts';
import { renderProviderError } from './render-error.ts';

export interface ProviderDeps {
  config: Config;
  db: Kysely<Database>;
  catalogue: Catalogue;
  users: UserRepository;
  roles: RoleService;
  signingKeys: PrivateJwk[];
  cookieKeys: string[];
}

/** The resource the admin API is protected as (`<ISSUER>/admin`, DESIGN §8). */
export const adminResource = (issuer: string) => `${issuer}/admin`;

/**
 * oidc-provider configured as DESIGN §5 asks: authorization code with PKCE S256 for every client,
 * no implicit flow, JWT access tokens for one resource at a time, client_credentials, refresh token
 * rotation, DCR and Client ID Metadata Documents for MCP clients, revocation and introspection.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, catalogue } = deps;
  const resourceScopes = (resource: string): string[] | undefined => {
    if (resource === adminResource(config.issuer)) return [...catalogue.baseScopes, 'mcp:admin'];
    const entry = catalogue.resources[resource];
    return entry ? [...new Set([...catalogue.baseScopes, ...entry.scopes])] : undefined;
  };

  const configuration: Configuration = {
    adapter: createAdapterFactory(deps.db),
    clients: [],
    jwks: { keys: deps.signingKeys },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // Catalogue scopes are listed too: dynamic registration validates a client's `scope` against
    // this list, and the MCP SDK registers with the resource's scopes_supported.
    scopes: ['openid', 'offline_access', 'email', 'profile', ...Object.keys(catalogue.scopes), 'mcp:admin'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    responseTypes: ['code'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALG,
    },
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256'] },
    async findAccount(_ctx, id) {
      const user = await deps.users.findById(id);
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({ sub: user.id, email: user.email, email_verified: false, name: user.name }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      dPoP: { enabled: true },
      registration: { enabled: true, initialAccessToken: false },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        // Client ID Metadata Documents are fetched only over https, as the draft requires.
        allowFetch: async (_ctx: unknown, clientId: string) => clientId.startsWith('https://'),
      },
      resourceIndicators: {
        enabled: true,
        // An agent's own token must name the MCP server it is for: no audience-less tokens.
        async defaultResource(ctx, _client, oneOf) {
          if (oneOf) return oneOf;
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            throw new errors.InvalidTarget('the resource parameter is required (the MCP server URL the token is for)');
          }
          return undefined;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resource) {
          const scopes = resourceScopes(resource);
          if (!scopes) throw new errors.InvalidTarget(`unknown resource ${JSON.stringify(resource)}`);
          return {
            scope: scopes.join(' '),
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: SIGNING_ALG } },
          };
        },
      },
    } as Configuration['features'],
    ttl: {
      AccessToken: (_ctx, token) => accessTokenTtl(catalogue, token.scope, config.accessTokenTtl),
      ClientCredentials: (_ctx, token) => accessTokenTtl(catalogue, token.scope, config.accessTokenTtl),
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      BackchannelAuthenticationRequest: 900,
    },
    async extraTokenClaims(_ctx, token) {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      const roles = accountId
        ? await deps.roles.effectiveForUser(accountId)
        : await deps.roles.effectiveForClient(token.clientId!);
      return { roles };
    },
    formats: {
      customizers: {
        // Base scopes are part of every token (DESIGN §5): clients that replace their scope on a
        // step-up challenge must never lose their base access. The response's `scope` reads the
        // same token field, so the two stay identical.
        async jwt(_ctx, token, jwt) {
          const scope = withBaseScopes(catalogue, token.scope);
          token.scope = scope;
          jwt.payload.scope = scope;
        },
      },
    },
    renderError: renderProviderError,
    discovery: { service_documentation: `${config.issuer}/` },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}

export type { KoaContextWithOIDC };
