import { ResourceIndex, type Catalogue } from '../policy/index.ts';

/** Scope values of OpenID Connect itself: they ask for sign-in and refresh, not for MCP access. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set([
  'openid',
  'offline_access',
  'email',
  'profile',
]);

/** The resource the admin API is protected as (`<ISSUER>/admin`, ARCHITECTURE.md §8). */
export const adminResource = (issuer: string) => `${issuer}/admin`;

/** The resource verifiers post audit events to (`<ISSUER>/audit`, scope `audit:write`). */
export const auditResource = (issuer: string) => `${issuer}/audit`;

// The catalogue is frozen at start: one index per catalogue and issuer, built on first use.
const indexes = new WeakMap<Catalogue, Map<string, ResourceIndex>>();

/**
 * The known spelling of the resource `value` names — a key of the catalogue's `resources`, the
 * admin API or the audit ingest — compared after RFC 3986 §6.2.2 normalisation
 * (`normalizeResourceUri` of the policy engine); undefined for a resource this server does not
 * know. Every resource comparison of the server goes through here, and tokens carry the spelling
 * it returns.
 */
export function knownResource(
  catalogue: Catalogue,
  issuer: string,
  value: string,
): string | undefined {
  let byIssuer = indexes.get(catalogue);
  if (!byIssuer) indexes.set(catalogue, (byIssuer = new Map()));
  let index = byIssuer.get(issuer);
  if (!index) {
    index = new ResourceIndex([
      adminResource(issuer),
      auditResource(issuer),
      ...Object.keys(catalogue.resources),
    ]);
    byIssuer.set(issuer, index);
  }
  return index.resolve(value);
}

/**
 * Scopes a token for `resource` (any spelling, see {@link knownResource}) may carry: the base
 * scopes plus the resource's own, or undefined for a resource this server does not know. The
 * admin API accepts `mcp:admin`, the audit ingest `audit:write`.
 */
export function acceptedScopes(
  catalogue: Catalogue,
  issuer: string,
  resource: string,
): string[] | undefined {
  const known = knownResource(catalogue, issuer, resource);
  if (known === undefined) return undefined;
  if (known === adminResource(issuer)) return [...new Set([...catalogue.baseScopes, 'mcp:admin'])];
  if (known === auditResource(issuer))
    return [...new Set([...catalogue.baseScopes, 'audit:write'])];
  const entry = catalogue.resources[known]!;
  return [...new Set([...catalogue.baseScopes, ...entry.scopes])];
}
