import type Provider from 'oidc-provider';
import type { Catalogue } from '../policy/index.ts';
import { acceptedScopes } from '../oidc/resources.ts';

const OIDC_SCOPES = new Set(['openid', 'offline_access', 'email', 'profile']);

/**
 * A saved Grant for a resource: the base scopes plus the requested scopes the resource accepts.
 * Catalogue scopes are OP-level scope values too (see provider.ts), so they are also granted in
 * the OIDC part.
 */
export async function grantFor(provider: Provider, catalogue: Catalogue, g: { issuer: string; accountId: string; clientId: string; resource: string; scopes: string[]; grantId?: string }): Promise<InstanceType<Provider['Grant']>> {
  const existing = g.grantId ? await provider.Grant.find(g.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId: g.accountId, clientId: g.clientId });
  const accepted = new Set(acceptedScopes(catalogue, g.issuer, g.resource) ?? catalogue.baseScopes);
  const resourceScopes = [...new Set([...catalogue.baseScopes, ...g.scopes.filter((s) => accepted.has(s))])];
  const oidc = g.scopes.filter((s) => OIDC_SCOPES.has(s) || resourceScopes.includes(s));
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  grant.addResourceScope(g.resource, resourceScopes.join(' '));
  await grant.save();
  return grant;
}
