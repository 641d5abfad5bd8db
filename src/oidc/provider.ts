import type { Kysely } from 'kysely';
import type Koa from 'koa';
import Provider, {
  errors,
  interactionPolicy,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { RoleService } from '../roles/role-service.ts';
import { SIGNING_ALG, type PrivateJwk } from '../keys/keystore.ts';
import { createAdapterFactory } from './adapter.ts';
import { accessTokenTtl, withBaseScopes } from './tokens.ts';
import { renderProviderError } from './render-error.ts';
import { acceptedScopes, knownResource } from './resources.ts';
import type { ElevationService } from '../elevation/service.ts';
import { bindElevation } from '../elevation/token-binding.ts';
import { CIBA_GRANT, cibaFeature, pollTooSoon } from '../elevation/ciba.ts';
import type { OwnTokenVerifier } from '../tokens/index.ts';
import { validateToolCallDetail } from '../elevation/tool-call.ts';
import { RequestUsers } from './request-users.ts';
import { settleAuthorizationScope } from './default-scope.ts';
import { checkRefreshBeforeRotation } from './refresh.ts';
import { knownResourceParams } from './resource-params.ts';
import { pinOrigin } from './pin-origin.ts';
import {
  allowMetadataDocumentClient,
  MCP_RESOURCE,
  validateClientMetadata,
} from './registration-rules.ts';
import { allowedServiceScopes, withoutServiceScopes } from './service-scopes.ts';
import { createOutboundGuard } from '../http/outbound.ts';
import { DEFAULTS } from '../config/defaults.ts';

export interface ProviderDeps {
  config: Config;
  db: Kysely<Database>;
  catalogue: Catalogue;
  users: UserRepository;
  roles: RoleService;
  signingKeys: PrivateJwk[];
  cookieKeys: string[];
  elevation: ElevationService;
  /** The server's one verifier of its own tokens (CIBA `login_hint_token`). */
  tokens: OwnTokenVerifier;
}

/** Approval-gated scopes need a sign-in younger than this (DESIGN §6). */
export const FRESH_LOGIN_SECONDS = DEFAULTS.freshLoginSeconds;

export { adminResource } from './resources.ts';

/**
 * oidc-provider configured as DESIGN §5 asks: authorization code with PKCE S256 for every client,
 * no implicit flow, JWT access tokens for one resource at a time, client_credentials, refresh token
 * rotation, DCR and Client ID Metadata Documents for MCP clients, revocation and introspection.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, catalogue } = deps;
  // The catalogue is frozen at start, so each known resource's server info is built once.
  const serverInfo = new Map<
    string,
    { scope: string; audience: string; accessTokenFormat: 'jwt'; jwt: { sign: { alg: string } } }
  >();
  // Tokens carry the known spelling of their resource (the catalogue's), whatever the client sent.
  const resourceServerInfo = (value: string) => {
    const resource = knownResource(catalogue, config.issuer, value);
    if (resource === undefined) return undefined;
    let info = serverInfo.get(resource);
    if (!info) {
      const scopes = acceptedScopes(catalogue, config.issuer, resource)!;
      info = {
        scope: scopes.join(' '),
        audience: resource,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: SIGNING_ALG } },
      };
      serverInfo.set(resource, info);
    }
    // oidc-provider may keep what it is given: hand out a copy.
    return { ...info, jwt: { sign: { ...info.jwt.sign } } };
  };
  const requestUsers = new RequestUsers(deps.users);
  const gated = (scope: unknown) =>
    String(scope ?? '')
      .split(' ')
      .filter((s) => catalogue.scopes[s]?.approval);
  // Assigned below: CIBA callbacks need the provider they are configured into.
  // eslint-disable-next-line prefer-const
  let provider: Provider | undefined;

  // Login prompt: approval-gated scopes need a recent sign-in, else the user signs in again.
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check(
      'elevation_reauth',
      'approval-gated scopes need a recent sign-in',
      async (ctx) => {
        const authTime = ctx.oidc.session?.authTime();
        return gated(ctx.oidc.params?.scope).length > 0 &&
          authTime !== undefined &&
          Date.now() / 1000 - authTime > FRESH_LOGIN_SECONDS
          ? interactionPolicy.Check.REQUEST_PROMPT
          : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      },
    ),
  );

  // Every fetch oidc-provider makes (CIMD, client jwks_uri, sector identifiers, notification
  // endpoints) goes through the one outbound guard (DESIGN §8), replacing its own dispatcher.
  const outbound = createOutboundGuard({ allow: config.outboundAllow });
  const configuration: Configuration = {
    fetch: (url, options) =>
      outbound.fetch(url instanceof Request ? url.url : url, options as never) as never,
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
    // Refresh tokens are always rotated; what could still fail is checked first, so a rejected
    // refresh leaves the token usable (see refresh.ts).
    rotateRefreshToken(ctx) {
      checkRefreshBeforeRotation(ctx, (resource) => resourceServerInfo(resource) !== undefined);
      return true;
    },
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
    async findAccount(ctx, id) {
      const user = await requestUsers.load(ctx, id);
      // A client acting on its own behalf (CIBA with login_hint = its own client_id) is its own
      // account; only the client itself can be that account.
      if (!user && ctx.oidc?.client?.clientId === id)
        return { accountId: id, claims: async () => ({ sub: id }) };
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({
          sub: user.id,
          email: user.email,
          email_verified: false,
          name: user.name,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy },
    // A stored grant keeps elevated scopes only while a live elevation covers them, so asking for
    // an elevated scope again after its elevation ended goes through consent (and approval) again.
    async loadExistingGrant(ctx) {
      const consented = ctx.oidc.result?.consent?.grantId;
      const grantId = consented || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (!grantId) return undefined;
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (!grant || consented) return grant;
      const accountId = ctx.oidc.session!.accountId!;
      for (const [resource, scope] of Object.entries(grant.resources ?? {})) {
        const live = await deps.elevation.elevations.live(
          accountId,
          grant.clientId!,
          resource,
          grantId,
        );
        const covered = new Set(live.flatMap((e) => e.scopes));
        const stale = String(scope)
          .split(' ')
          .filter((s) => catalogue.scopes[s]?.minRole && !covered.has(s));
        if (!stale.length) continue;
        grant.resources![resource] = String(scope)
          .split(' ')
          .filter((s) => !stale.includes(s))
          .join(' ');
        if (grant.openid?.scope)
          grant.openid.scope = grant.openid.scope
            .split(' ')
            .filter((s) => !stale.includes(s))
            .join(' ');
      }
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      dPoP: { enabled: true },
      ciba: cibaFeature({
        db: deps.db,
        catalogue,
        roles: deps.roles,
        elevation: deps.elevation,
        issuer: config.issuer,
        users: requestUsers,
        tokens: deps.tokens,
        provider: () => provider!,
      }),
      registration: { enabled: true, initialAccessToken: false },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        // Client ID Metadata Documents are fetched only over https, as the draft requires, and
        // only from hosts the outbound guard admits (refused before any connection is made).
        allowFetch: async (_ctx: unknown, clientId: string) =>
          clientId.startsWith('https://') && outbound.permits(clientId),
        allowClient: allowMetadataDocumentClient,
      },
      // Exact tool-call binding (DESIGN §6): an `mcp_tool_call` detail on a CIBA request is
      // shown to approvers and carried into the token's `authorization_details`. Interactive
      // (authorization code) flows do not bind tool calls.
      richAuthorizationRequests: {
        enabled: true,
        types: { mcp_tool_call: { validate: validateToolCallDetail } },
        // Grant sources keep no details of their own: the CIBA request gets its binding from
        // backchannelResult once approved.
        authorizationDetailsForGrantSource: () => undefined,
        authorizationDetailsForAccessToken: (
          _ctx: KoaContextWithOIDC,
          _token: unknown,
          source: { rar?: unknown } | undefined,
          grantType: string,
        ) => (grantType === CIBA_GRANT ? source?.rar : undefined),
        authorizationDetailsForIntrospection: (
          _ctx: KoaContextWithOIDC,
          token: { rar?: unknown },
        ) => token.rar,
      },
      resourceIndicators: {
        enabled: true,
        // An agent's own token must name the MCP server it is for: no audience-less tokens.
        async defaultResource(
          ctx: KoaContextWithOIDC,
          _client: unknown,
          oneOf?: string | string[],
        ) {
          if (oneOf) return oneOf;
          if (ctx.oidc.params?.grant_type === 'client_credentials') {
            throw new errors.InvalidTarget(
              'the resource parameter is required (the MCP server URL the token is for)',
            );
          }
          return undefined;
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(
          ctx: KoaContextWithOIDC,
          resource: string,
          client?: Parameters<typeof allowedServiceScopes>[3],
        ) {
          const info = resourceServerInfo(resource);
          if (!info) throw new errors.InvalidTarget(`unknown resource ${JSON.stringify(resource)}`);
          // Service scopes only for admin-registered clients acting for themselves (service-scopes.ts).
          info.scope = withoutServiceScopes(
            catalogue,
            info.scope,
            await allowedServiceScopes(deps.db, catalogue, ctx.oidc?.params?.grant_type, client),
          );
          return info;
        },
      },
    } as unknown as Configuration['features'],
    ttl: {
      AccessToken: (_ctx, token) => accessTokenTtl(catalogue, token.scope, config.accessTokenTtl),
      ClientCredentials: (_ctx, token) =>
        accessTokenTtl(catalogue, token.scope, config.accessTokenTtl),
      AuthorizationCode: DEFAULTS.authorizationCodeTtlSeconds,
      Interaction: DEFAULTS.interactionTtlSeconds,
      Session: DEFAULTS.sessionTtlSeconds,
      Grant: DEFAULTS.grantTtlSeconds,
      IdToken: DEFAULTS.idTokenTtlSeconds,
      RefreshToken: DEFAULTS.refreshTokenTtlSeconds,
      // A CIBA request lives as long as the approval ticket it may open.
      BackchannelAuthenticationRequest: (_ctx, request) => {
        const g = gated(request.scope);
        return g.length ? deps.elevation.ticketTtl(g) : DEFAULTS.backchannelRequestTtlSeconds;
      },
    },
    async extraTokenClaims(ctx, token) {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      // A client acting for itself (client_credentials, or CIBA with its own id) carries its own roles.
      if (!accountId || accountId === token.clientId)
        return { roles: await deps.roles.effectiveForClient(token.clientId!) };
      // The user this request already loaded as its account.
      const user = await requestUsers.load(ctx, accountId);
      return { roles: (await deps.roles.graph()).effective(user?.roles ?? []) };
    },
    formats: {
      customizers: {
        // Base scopes are part of every token (DESIGN §5): clients that replace their scope on a
        // step-up challenge must never lose their base access. The response's `scope` reads the
        // same token field, so the two stay identical.
        async jwt(_ctx, token, jwt) {
          const payload = jwt.payload as Parameters<typeof bindElevation>[2]['payload'];
          const grantId = (token as { grantId?: string }).grantId;
          const scope = await bindElevation(catalogue, deps.elevation.elevations, {
            kind: token.kind,
            scope: withBaseScopes(catalogue, token.scope),
            grantId,
            payload,
          });
          token.scope = scope;
          jwt.payload.scope = scope;
          // The grant a token was minted under: the server's own verifier checks it is still live.
          if (grantId) jwt.payload.grant_id = grantId;
          // The token response's expires_in follows the (possibly shortened) JWT lifetime.
          if (payload.exp && payload.iat)
            (token as unknown as { expiresIn: number }).expiresIn = payload.exp - payload.iat;
        },
      },
    },
    renderError: renderProviderError,
    discovery: { service_documentation: `${config.issuer}/` },
  };

  provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    // CIBA responses advertise the polling interval this server enforces.
    if (ctx.path === '/backchannel' && ctx.status === 200 && body?.auth_req_id)
      body.interval = config.cibaPollInterval;
    // CIBA §13: access_denied at the backchannel endpoint is a 403.
    if (ctx.path === '/backchannel' && body?.error === 'access_denied') ctx.status = 403;
    if (
      ctx.path === '/token' &&
      body?.error === 'authorization_pending' &&
      ctx.oidc?.params?.grant_type === CIBA_GRANT &&
      (await pollTooSoon(deps.db, String(ctx.oidc.params.auth_req_id), config.cibaPollInterval))
    ) {
      ctx.body = {
        error: 'slow_down',
        error_description: `poll no more often than every ${config.cibaPollInterval} seconds`,
      };
    }
  });
  return provider;
}

/**
 * Request rewriting that oidc-provider's routes rely on, for the app to run in this order right
 * after the input boundary (which must see the raw body first): URLs follow ISSUER, never the
 * request's Host (`TRUST_PROXY` only means X-Forwarded-For); `resource` values are read in the
 * catalogue's spelling at every endpoint that takes one.
 */
export function providerRequestMiddleware(
  provider: Provider,
  config: Config,
  catalogue: Catalogue,
): Koa.Middleware[] {
  const takesResource = [
    'authorization',
    'pushed_authorization_request',
    'token',
    'backchannel_authentication',
  ];
  return [
    pinOrigin(config.issuer),
    knownResourceParams(
      takesResource.map((route) => provider.pathFor(route)),
      (value) => knownResource(catalogue, config.issuer, value),
    ),
  ] as Koa.Middleware[];
}

export type { KoaContextWithOIDC };
