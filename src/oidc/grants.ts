import type Provider from 'oidc-provider';
import type { Catalogue } from '../policy/index.ts';
import { OIDC_SCOPES, acceptedScopes } from './resources.ts';

/**
 * A saved Grant for a resource: the base scopes plus the requested scopes the resource accepts.
 * Catalogue scopes are OP-level scope values too (see provider.ts), so they are also granted in
 * the OIDC part.
 */
export async function grantFor(
  provider: Provider,
  catalogue: Catalogue,
  g: GrantSpec,
): Promise<Grant> {
  const grant = await prepareGrant(provider, catalogue, g);
  await grant.save();
  return grant;
}

type Grant = InstanceType<Provider['Grant']>;
type GrantSpec = {
  issuer: string;
  accountId: string;
  clientId: string;
  resource: string;
  scopes: string[];
  grantId?: string;
};

/**
 * As {@link grantFor}, not saved yet: its id (`jti`) is already fixed, so an elevation can be
 * recorded under it in the same step that creates the elevation.
 */
export async function prepareGrant(
  provider: Provider,
  catalogue: Catalogue,
  g: GrantSpec,
): Promise<Grant> {
  const existing = g.grantId ? await provider.Grant.find(g.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId: g.accountId, clientId: g.clientId });
  if (!grant.jti) grant.jti = (grant as unknown as { generateTokenId(): string }).generateTokenId();
  const accepted = new Set(acceptedScopes(catalogue, g.issuer, g.resource) ?? catalogue.baseScopes);
  const resourceScopes = [
    ...new Set([...catalogue.baseScopes, ...g.scopes.filter((s) => accepted.has(s))]),
  ];
  const oidc = g.scopes.filter((s) => OIDC_SCOPES.has(s) || resourceScopes.includes(s));
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  grant.addResourceScope(g.resource, resourceScopes.join(' '));
  return grant;
}
