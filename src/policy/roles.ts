import { PolicyError } from './errors.ts';
import type { Permission, Role } from './schema.ts';

/** Distinct role lists whose permissions a graph remembers (see `RoleGraph.permissions`). */
const MAX_REMEMBERED_ROLE_LISTS = 1_000;

/** Resolved role inheritance. Built once per role set; every query is a lookup, not a walk. */
export interface RoleGraph {
  /** Roles by name, in declaration order. */
  readonly roles: ReadonlyMap<string, Role>;
  /** True when the role exists. */
  has(name: string): boolean;
  /** All roles `name` inherits from, transitively, without `name` itself; `[]` for unknown roles. */
  ancestors(name: string): readonly string[];
  /**
   * The given roles plus all their ancestors, deduplicated, in a stable order (each role followed
   * by its ancestors, depth-first in `inherits` order). Unknown names are dropped: a role deleted
   * after a token was issued must grant nothing.
   */
  effective(names: readonly string[]): string[];
  /**
   * The permissions of {@link RoleGraph.effective}`(names)`, in the same order; frozen, and
   * remembered per list of names (a graph never changes once built).
   */
  permissions(names: readonly string[]): readonly Permission[];
  /** True when one of `principalRoles` is `minRole` or inherits it, transitively. */
  satisfies(principalRoles: readonly string[], minRole: string): boolean;
}

/**
 * Resolves transitive inheritance for a role set. Rules enforced, in this order:
 * role names are unique (`ERR_ROLE_DUPLICATE`, data `{ role }`); every parent exists
 * (`ERR_ROLE_UNKNOWN_PARENT`, data `{ role, parent }`); inheritance has no cycle, a role inheriting
 * itself included (`ERR_ROLE_CYCLE`, data `{ cycle }` such as `["a", "b", "a"]`).
 *
 * @param roles Parsed roles (see `RoleSchema`).
 * @throws {PolicyError} As listed above.
 */
export function buildRoleGraph(roles: readonly Role[]): RoleGraph {
  const byName = new Map<string, Role>();
  for (const role of roles) {
    if (byName.has(role.name)) {
      throw new PolicyError('ERR_ROLE_DUPLICATE', `role "${role.name}" is defined twice`, {
        role: role.name,
      });
    }
    byName.set(role.name, role);
  }
  for (const role of roles) {
    for (const parent of role.inherits) {
      if (!byName.has(parent)) {
        throw new PolicyError(
          'ERR_ROLE_UNKNOWN_PARENT',
          `role "${role.name}" inherits unknown role "${parent}"`,
          {
            role: role.name,
            parent,
          },
        );
      }
    }
  }

  const closure = new Map<string, readonly string[]>();
  const onPath = new Set<string>();
  const path: string[] = [];
  // Depth-first with memoisation; `onPath` catches a cycle before it can recurse forever, so the
  // recursion depth is bounded by the longest inheritance chain.
  const resolve = (name: string): readonly string[] => {
    const known = closure.get(name);
    if (known) return known;
    if (onPath.has(name)) {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new PolicyError(
        'ERR_ROLE_CYCLE',
        `role inheritance has a cycle: ${cycle.join(' -> ')}`,
        { cycle },
      );
    }
    onPath.add(name);
    path.push(name);
    const out = new Set<string>();
    for (const parent of byName.get(name)!.inherits) {
      out.add(parent);
      for (const ancestor of resolve(parent)) out.add(ancestor);
    }
    path.pop();
    onPath.delete(name);
    const result = Object.freeze([...out]);
    closure.set(name, result);
    return result;
  };
  for (const role of roles) resolve(role.name);

  const permissionsOf = new Map<string, readonly Permission[]>();
  const effective = (names: readonly string[]): string[] => {
    const out = new Set<string>();
    for (const name of names) {
      if (!byName.has(name)) continue;
      out.add(name);
      for (const ancestor of closure.get(name)!) out.add(ancestor);
    }
    return [...out];
  };

  return Object.freeze({
    roles: byName,
    has: (name: string) => byName.has(name),
    ancestors: (name: string) => closure.get(name) ?? [],
    effective,
    permissions: (names: readonly string[]) => {
      // Every decision asks for the caller's roles: the same few lists, over and over.
      const key = JSON.stringify(names);
      let known = permissionsOf.get(key);
      if (known === undefined) {
        known = Object.freeze(effective(names).flatMap((name) => byName.get(name)!.permissions));
        if (permissionsOf.size < MAX_REMEMBERED_ROLE_LISTS) permissionsOf.set(key, known);
      }
      return known;
    },
    satisfies: (principalRoles: readonly string[], minRole: string) =>
      effective(principalRoles).includes(minRole),
  });
}

/**
 * Checks that creating or replacing `changed` keeps the role set valid, for the admin API to call
 * before it writes. Returns the would-be graph.
 *
 * @throws {PolicyError} Whatever {@link buildRoleGraph} throws for the would-be set.
 */
export function checkRoleChange(roles: readonly Role[], changed: Role): RoleGraph {
  const replaced = roles.some((role) => role.name === changed.name);
  const next = replaced
    ? roles.map((role) => (role.name === changed.name ? changed : role))
    : [...roles, changed];
  return buildRoleGraph(next);
}

/**
 * Checks that deleting role `name` keeps the role set valid (no other role inherits it).
 * Returns the would-be graph.
 *
 * @throws {PolicyError} `ERR_ROLE_UNKNOWN` when no such role exists, `ERR_ROLE_UNKNOWN_PARENT`
 *   when another role still inherits it.
 */
export function checkRoleRemoval(roles: readonly Role[], name: string): RoleGraph {
  if (!roles.some((role) => role.name === name)) {
    throw new PolicyError('ERR_ROLE_UNKNOWN', `role "${name}" does not exist`, { role: name });
  }
  return buildRoleGraph(roles.filter((role) => role.name !== name));
}
