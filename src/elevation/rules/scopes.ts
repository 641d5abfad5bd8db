import type { Catalogue, ScopeDefinition } from '../../policy/index.ts';

/** The catalogue's definition of `scope`, or undefined (never an inherited property). */
export const definition = (catalogue: Catalogue, scope: string): ScopeDefinition | undefined =>
  Object.hasOwn(catalogue.scopes, scope) ? catalogue.scopes[scope] : undefined;

/** The elevated scopes (those with a `minRole`) among `scopes`, in their order. */
export function elevatedScopes(catalogue: Catalogue, scopes: readonly string[]): string[] {
  return scopes.filter((s) => definition(catalogue, s)?.minRole !== undefined);
}

/** The approval-gated scopes (those with an `approval`) among `scopes`, in their order. */
export function gatedScopes(catalogue: Catalogue, scopes: readonly string[]): string[] {
  return scopes.filter((s) => definition(catalogue, s)?.approval !== undefined);
}

/** A space-separated scope parameter as a list (empty values dropped). */
export const scopeList = (scope: unknown): string[] =>
  String(scope ?? '')
    .split(' ')
    .filter(Boolean);
