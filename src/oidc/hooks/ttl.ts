/**
 * `ttl`: lifetimes in seconds of what oidc-provider issues and stores (ARCHITECTURE.md §5, §6). Rules:
 * - an access token lives as long as the shortest `expiresIn` of its elevated scopes, else the
 *   configured base lifetime (`ACCESS_TOKEN_TTL`); binding to its elevation may shorten it more
 *   (`jwt-customizer.ts`);
 * - a CIBA request lives as long as the approval ticket it may open (`cibaRequestTtl`);
 * - the rest come from `config/defaults.ts`: authorization codes 60 s, interactions and ID tokens
 *   1 h, sessions, grants and refresh tokens 14 days.
 */
import type { Configuration } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import { cibaRequestTtl, scopeList } from '../../elevation/rules/index.ts';
import { accessTokenTtl } from '../tokens.ts';
import { DEFAULTS } from '../../config/defaults.ts';

export function ttl(deps: {
  catalogue: Catalogue;
  /** Seconds a token without elevated scopes lives. */
  accessTokenTtl: number;
}): NonNullable<Configuration['ttl']> {
  const { catalogue } = deps;
  return {
    AccessToken: (_ctx, token) => accessTokenTtl(catalogue, token.scope, deps.accessTokenTtl),
    ClientCredentials: (_ctx, token) => accessTokenTtl(catalogue, token.scope, deps.accessTokenTtl),
    AuthorizationCode: DEFAULTS.authorizationCodeTtlSeconds,
    Interaction: DEFAULTS.interactionTtlSeconds,
    Session: DEFAULTS.sessionTtlSeconds,
    Grant: DEFAULTS.grantTtlSeconds,
    IdToken: DEFAULTS.idTokenTtlSeconds,
    RefreshToken: DEFAULTS.refreshTokenTtlSeconds,
    BackchannelAuthenticationRequest: (_ctx, request) =>
      cibaRequestTtl(catalogue, scopeList(request.scope)),
  };
}
