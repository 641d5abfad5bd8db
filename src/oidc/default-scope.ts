import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Catalogue } from '../policy/index.ts';
import { OIDC_SCOPES, acceptedScopes } from './resources.ts';

/** Endpoints whose requests end in a consent (the authorization endpoint and PAR). */
const ROUTES = new Set(['authorization', 'pushed_authorization_request']);

/**
 * Settles `scope` and `resource` of an authorization request before anyone signs in, so that every
 * combination a real client sends has one defined outcome (README, "Tokens"). Rules:
 * - at most one distinct `resource` (RFC 8707): a token is for exactly one MCP server;
 * - a request naming a resource always asks for that resource's base scopes (ARCHITECTURE.md §5), which is
 *   also the default when `scope` is absent (RFC 6749 §3.3 "pre-defined default value") — MCP
 *   clients omit `scope` when neither the challenge nor the resource metadata names one;
 * - a request naming no resource is an OpenID Connect sign-in: it must ask for `openid` and no
 *   catalogue scope, else `invalid_target` (the MCP server the token is for is missing);
 * - scope names the resource does not accept (unknown ones, or another resource's) are dropped
 *   here, before consent (RFC 6749 §3.3 lets the server grant less than asked; the token
 *   response's `scope` says what was granted), and duplicates count once.
 *
 * Used as oidc-provider's `extraParams.scope` validator, the documented place to assign defaults:
 * it runs after the request's own checks (`checkScope` has already dropped `offline_access` without
 * `prompt=consent` and deduplicated; `checkResource` has refused unknown resources) and before the
 * login and consent prompts, whose interaction keeps the settled parameters.
 */
export function settleAuthorizationScope(catalogue: Catalogue, issuer: string) {
  return async (ctx: KoaContextWithOIDC, value: string | undefined): Promise<void> => {
    if (!ROUTES.has(ctx.oidc.route ?? '')) return;
    const { params } = ctx.oidc;
    const resources = [...new Set(([] as unknown[]).concat(params!.resource ?? []).map(String))];
    if (resources.length > 1) {
      throw new errors.InvalidTarget(
        'only one resource per request: a token is for exactly one MCP server',
      );
    }
    const scopes = (value ?? '').split(' ').filter(Boolean);
    if (!resources.length) {
      if (!scopes.includes('openid') || scopes.some((s) => !OIDC_SCOPES.has(s))) {
        throw new errors.InvalidTarget(
          'the resource parameter is required (the MCP server URL the token is for)',
        );
      }
      return;
    }
    const resource = resources[0]!;
    // checkResource has already refused a resource this server does not know.
    const accepted = new Set(acceptedScopes(catalogue, issuer, resource) ?? []);
    const kept = scopes.filter((s) => OIDC_SCOPES.has(s) || accepted.has(s));
    params!.resource = resource;
    params!.scope = [...new Set([...catalogue.baseScopes, ...kept])].join(' ');
  };
}
