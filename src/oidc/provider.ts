import type { Kysely } from 'kysely';
import type Koa from 'koa';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { PrivateJwk } from '../keys/keystore.ts';
import type { ElevationService } from '../elevation/service.ts';
import type { OwnTokenVerifier } from '../tokens/index.ts';
import { createOutboundGuard } from '../http/outbound.ts';
import { knownResource } from './resources.ts';
import { RequestUsers } from './request-users.ts';
import { knownResourceParams } from './resource-params.ts';
import { pinOrigin } from './pin-origin.ts';
import { configuration } from './configuration.ts';
import { cibaResponses } from './ciba/responses.ts';

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
  /**
   * The server's clock for its own rules: fresh sign-in for approval-gated scopes, CIBA polling
   * intervals, an elevated token's `iat` when it has none. oidc-provider keeps its own clock.
   * Default `() => new Date()`.
   */
  currentDate?: () => Date;
}

export { adminResource } from './resources.ts';

/**
 * The authorization server's oidc-provider: its {@link configuration}, and CIBA's response
 * rewriting (`ciba/responses.ts`) around its routes.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const currentDate = deps.currentDate ?? (() => new Date());
  const provider: Provider = new Provider(
    config.issuer,
    configuration({
      ...deps,
      users: new RequestUsers(deps.users),
      outbound: createOutboundGuard({ allow: config.outboundAllow }),
      currentDate,
      // CIBA callbacks need the provider they are configured into; they run only on requests.
      provider: () => provider,
    }),
  );
  provider.proxy = config.trustProxy;
  provider.use(
    cibaResponses({ db: deps.db, interval: config.cibaPollInterval, currentDate }) as never,
  );
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
