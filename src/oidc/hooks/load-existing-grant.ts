/**
 * `loadExistingGrant(ctx)`: the grant an authorization request may reuse without a new consent.
 * Rules (beyond oidc-provider's default, which it otherwise follows):
 * - a grant just consented to in this interaction is used as it is;
 * - a stored grant keeps elevated scopes only while a live elevation of it covers them
 *   (`staleGrantScopes`): asking for an elevated scope again after its elevation ended goes
 *   through consent (and approval) again.
 */
import type { Configuration } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { scopeList, staleGrantScopes } from '../../elevation/rules/index.ts';

export function loadExistingGrant(deps: {
  catalogue: Catalogue;
  elevation: ElevationService;
}): NonNullable<Configuration['loadExistingGrant']> {
  return async (ctx) => {
    const consented = ctx.oidc.result?.consent?.grantId;
    const grantId = consented || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
    if (!grantId) return undefined;
    const grant = await ctx.oidc.provider.Grant.find(grantId);
    if (!grant || consented) return grant;
    const accountId = ctx.oidc.session!.accountId!;
    for (const [resource, scope] of Object.entries(grant.resources ?? {})) {
      const live = await deps.elevation.liveElevations(
        accountId,
        grant.clientId!,
        resource,
        grantId,
      );
      const stale = staleGrantScopes(deps.catalogue, scopeList(scope), live);
      if (!stale.length) continue;
      const fresh = (value: string) =>
        value
          .split(' ')
          .filter((s) => !stale.includes(s))
          .join(' ');
      grant.resources![resource] = fresh(String(scope));
      if (grant.openid?.scope) grant.openid.scope = fresh(grant.openid.scope);
    }
    return grant;
  };
}
