import { PolicyError } from './errors.ts';
import { formatPath, formatZodIssues } from './issues.ts';
import { normalizeResourceUri } from './resource-uri.ts';
import { CatalogueSchema } from './schema.ts';
import type { Catalogue } from './schema.ts';

/** True when the scope is elevated, i.e. only a role holder may obtain it. */
export function isElevated(scope: { minRole?: string | undefined }): boolean {
  return scope.minRole !== undefined;
}

/**
 * Cross-checks a parsed catalogue against itself and the known roles, beyond what the zod schema
 * can express. Rules enforced:
 * - every scope named by `baseScopes` and `resources[*].scopes` is defined;
 * - a base scope is not elevated (everyone holds base scopes, so `minRole` would be meaningless);
 * - an elevated scope's `minRole` names a known role, and it sets `expiresIn` (elevation is
 *   short-lived by design);
 * - `approval` appears only on elevated scopes (only the elevation flow consults it);
 * - every resource is an absolute http(s) URI, and no two name the same resource once normalised
 *   (RFC 3986 §6.2.2, see {@link normalizeResourceUri}).
 *
 * @param catalogue A catalogue already parsed by {@link CatalogueSchema}.
 * @param roleNames Known role names. Omit it to skip the role check (e.g. before roles are loaded).
 * @returns One `path: message` line per problem; empty when the catalogue is consistent.
 */
export function validateCatalogue(catalogue: Catalogue, roleNames?: Iterable<string>): string[] {
  const errors: string[] = [];
  const report = (path: PropertyKey[], message: string) =>
    errors.push(`${formatPath(path)}: ${message}`);
  const defined = (name: string) => Object.hasOwn(catalogue.scopes, name);
  const roles = roleNames === undefined ? undefined : new Set(roleNames);

  const seen = new Set<string>();
  catalogue.baseScopes.forEach((name, i) => {
    if (seen.has(name)) report(['baseScopes', i], `duplicate scope "${name}"`);
    seen.add(name);
    if (!defined(name)) report(['baseScopes', i], `unknown scope "${name}"`);
    else if (isElevated(catalogue.scopes[name])) {
      report(
        ['baseScopes', i],
        `scope "${name}" is elevated (has minRole) and cannot be a base scope`,
      );
    }
  });

  const resourceKeys = new Map<string, string>();
  for (const [url, resource] of Object.entries(catalogue.resources)) {
    const key = normalizeResourceUri(url);
    if (key === undefined)
      report(['resources', url], 'not an absolute http(s) URI without fragment');
    else if (resourceKeys.has(key))
      report(['resources', url], `names the same resource as "${resourceKeys.get(key)}"`);
    else resourceKeys.set(key, url);
    resource.scopes.forEach((name, i) => {
      if (!defined(name)) report(['resources', url, 'scopes', i], `unknown scope "${name}"`);
    });
  }

  for (const [name, scope] of Object.entries(catalogue.scopes)) {
    if (scope.minRole !== undefined) {
      if (roles && !roles.has(scope.minRole))
        report(['scopes', name, 'minRole'], `unknown role "${scope.minRole}"`);
      if (scope.expiresIn === undefined)
        report(['scopes', name, 'expiresIn'], 'required for an elevated scope (one with minRole)');
    } else if (scope.approval !== undefined) {
      report(
        ['scopes', name, 'approval'],
        'only an elevated scope (one with minRole) can require approval',
      );
    }
  }
  return errors;
}

/**
 * Parses and cross-checks a scope catalogue (the contents of `scopes.json`).
 *
 * @param input The decoded JSON.
 * @param roleNames Known role names; omit to skip the `minRole` check.
 * @throws {PolicyError} `ERR_CATALOGUE_INVALID` with `data.issues`: every problem as a
 *   `path: message` line (schema errors first, then cross-check errors).
 */
export function parseCatalogue(input: unknown, roleNames?: Iterable<string>): Catalogue {
  const parsed = CatalogueSchema.safeParse(input);
  const issues = parsed.success
    ? validateCatalogue(parsed.data, roleNames)
    : formatZodIssues(parsed.error);
  if (issues.length > 0 || !parsed.success) {
    throw new PolicyError(
      'ERR_CATALOGUE_INVALID',
      `invalid scope catalogue:\n  ${issues.join('\n  ')}`,
      { issues },
    );
  }
  return parsed.data;
}
