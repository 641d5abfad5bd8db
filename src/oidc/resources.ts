import type { Catalogue } from '../policy/index.ts';

/** Scope values of OpenID Connect itself: they ask for sign-in and refresh, not for MCP access. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access', 'email', 'profile']);

/** The resource the admin API is protected as (`<ISSUER>/admin`, DESIGN §8). */
export const adminResource = (issuer: string) => `${issuer}/admin`;

/** The resource verifiers post audit events to (`<ISSUER>/audit`, scope `audit:write`). */
export const auditResource = (issuer: string) => `${issuer}/audit`;

/**
 * Scopes a token for `resource` may carry: the base scopes plus the resource's own, or undefined
 * for a resource this server does not know. The admin API accepts `mcp:admin`.
 */
export function acceptedScopes(catalogue: Catalogue, issuer: string, resource: string): string[] | undefined {
  if (resource === adminResource(issuer)) return [...new Set([...catalogue.baseScopes, 'mcp:admin'])];
  if (resource === auditResource(issuer)) return [...new Set([...catalogue.baseScopes, 'audit:write'])];
  const entry = catalogue.resources[resource];
  return entry ? [...new Set([...catalogue.baseScopes, ...entry.scopes])] : undefined;
}
