import type { Catalogue } from '../policy/index.ts';

/** `scope` with the catalogue's base scopes added in front, deduplicated. */
export function withBaseScopes(catalogue: Catalogue, scope: string | undefined): string {
  const scopes = new Set([...catalogue.baseScopes, ...(scope ? scope.split(' ') : [])]);
  scopes.delete('');
  return [...scopes].join(' ');
}

/**
 * Lifetime of an access token: the shortest `expiresIn` of the elevated scopes it carries, or the
 * base lifetime when it carries none (ARCHITECTURE.md §5).
 */
export function accessTokenTtl(
  catalogue: Catalogue,
  scope: string | undefined,
  baseTtl: number,
): number {
  let ttl = Infinity;
  for (const s of scope?.split(' ') ?? []) {
    const def = catalogue.scopes[s];
    if (def?.minRole !== undefined && def.expiresIn !== undefined)
      ttl = Math.min(ttl, def.expiresIn);
  }
  return Number.isFinite(ttl) ? ttl : baseTtl;
}
