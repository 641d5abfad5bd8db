import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { ElevationService } from '../elevation/service.ts';
import type { OwnTokenVerifier } from '../tokens/index.ts';
import type { OutboundGuard } from '../http/outbound.ts';
import { SIGNING_ALG, type PrivateJwk } from '../keys/keystore.ts';
import { createAdapterFactory } from './adapter.ts';
import { renderProviderError } from './render-error.ts';
import type { RequestUsers } from './request-users.ts';
import { settleAuthorizationScope } from './default-scope.ts';
import {
  allowMetadataDocumentClient,
  MCP_RESOURCE,
  validateClientMetadata,
} from './registration-rules.ts';
import { cibaFeature } from './ciba/feature.ts';
import { extraTokenClaims } from './hooks/extra-token-claims.ts';
import { findAccount } from './hooks/find-account.ts';
import { interactionPolicyWithFreshSignIn } from './hooks/interaction-policy.ts';
import { jwtCustomizer } from './hooks/jwt-customizer.ts';
import { loadExistingGrant } from './hooks/load-existing-grant.ts';
import { allowMetadataDocumentFetch, fetchThrough } from './hooks/outbound.ts';
import { resourceIndicators } from './hooks/resource-indicators.ts';
import { richAuthorizationRequests } from './hooks/rich-authorization-requests.ts';
import { rotateRefreshToken } from './hooks/rotate-refresh-token.ts';
import { ttl } from './hooks/ttl.ts';

/** What the configuration's hooks work with. */
export interface ConfigurationDeps {
  config: Config;
  db: Kysely<Database>;
  catalogue: Catalogue;
  roles: RoleService;
  signingKeys: PrivateJwk[];
  cookieKeys: string[];
  elevation: ElevationService;
  /** The server's one verifier of its own tokens (CIBA `login_hint_token`). */
  tokens: OwnTokenVerifier;
  /** Users as one request sees them, shared by `findAccount`, `extraTokenClaims` and CIBA. */
  users: RequestUsers;
  outbound: OutboundGuard;
  currentDate: () => Date;
  /** The provider this configuration goes into (CIBA completes requests through it). */
  provider: () => Provider;
}

/**
 * oidc-provider configured as ARCHITECTURE.md §5 asks: authorization code with PKCE S256 for every client,
 * no implicit flow, JWT access tokens for one resource at a time, client_credentials, refresh token
 * rotation, DCR and Client ID Metadata Documents for MCP clients, revocation, introspection, and
 * CIBA for decoupled elevation (§6). This object only names values and hooks: each hook is in a file
 * of its own under `hooks/` (or `ciba/`), named after it, opening with the rules it enforces.
 */
export function configuration(deps: ConfigurationDeps): Configuration {
  const { config, catalogue } = deps;
  return {
    fetch: fetchThrough(deps.outbound),
    adapter: createAdapterFactory(deps.db),
    // Clients live in the database (admin API, DCR, CIMD); none is configured statically.
    clients: [],
    jwks: { keys: deps.signingKeys },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // Catalogue scopes are listed too: dynamic registration validates a client's `scope` against
    // this list, and the MCP SDK registers with the resource's scopes_supported.
    scopes: [
      'openid',
      'offline_access',
      'email',
      'profile',
      ...Object.keys(catalogue.scopes),
      'mcp:admin',
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    responseTypes: ['code'],
    // The documented place to assign parameter defaults: a request without `scope` gets the base
    // scopes of its resource (see default-scope.ts for every combination).
    extraParams: { scope: settleAuthorizationScope(catalogue, config.issuer) },
    pkce: { required: () => true },
    rotateRefreshToken: rotateRefreshToken({ catalogue, issuer: config.issuer }),
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALG,
      // Every client may bind an elevation to one exact tool call.
      authorization_details_types: ['mcp_tool_call'],
    } as Configuration['clientDefaults'],
    // Registration rules for every client (registration-rules.ts): loopback-only http redirects,
    // no public client_credentials, user-delegated flows only for dynamic registration.
    extraClientMetadata: {
      properties: ['mcp_registration', MCP_RESOURCE],
      validator: validateClientMetadata as never,
    },
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256'] },
    findAccount: findAccount(deps.users),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWithFreshSignIn(deps),
    },
    loadExistingGrant: loadExistingGrant(deps),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      dPoP: { enabled: true },
      ciba: cibaFeature({ ...deps, issuer: config.issuer }),
      registration: { enabled: true, initialAccessToken: false },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        allowFetch: allowMetadataDocumentFetch(deps.outbound),
        allowClient: allowMetadataDocumentClient,
      },
      richAuthorizationRequests,
      resourceIndicators: resourceIndicators({ ...deps, issuer: config.issuer }),
      // @types/oidc-provider 9.12 lags the 9.13 runtime (introspection, CIMD's allowClient).
    } as unknown as Configuration['features'],
    ttl: ttl({ catalogue, accessTokenTtl: config.accessTokenTtl }),
    extraTokenClaims: extraTokenClaims(deps),
    formats: { customizers: { jwt: jwtCustomizer(deps) } },
    renderError: renderProviderError,
    discovery: { service_documentation: `${config.issuer}/` },
  };
}
