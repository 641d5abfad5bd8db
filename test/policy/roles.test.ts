import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROLES,
  PolicyError,
  RoleSchema,
  buildRoleGraph,
  checkRoleChange,
  checkRoleRemoval,
} from '../../src/policy/index.ts';
import type { Role } from '../../src/policy/index.ts';

const role = (name: string, inherits: string[] = [], permissions: Role['permissions'] = []): Role =>
  RoleSchema.parse({ name, inherits, permissions });

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error('expected a PolicyError');
}

describe('default roles', () => {
  const graph = buildRoleGraph(DEFAULT_ROLES);

  it('resolve inheritance transitively, each role followed by its ancestors', () => {
    expect(graph.effective(['admin'])).toEqual([
      'admin',
      'senior_developer',
      'developer',
      'viewer',
    ]);
    expect(graph.effective(['developer'])).toEqual(['developer', 'viewer']);
    expect(graph.effective(['viewer', 'developer', 'viewer'])).toEqual(['viewer', 'developer']);
  });

  it('let a principal satisfy a role it holds or inherits, never one above it', () => {
    expect(graph.satisfies(['senior_developer'], 'developer')).toBe(true);
    expect(graph.satisfies(['developer'], 'developer')).toBe(true);
    expect(graph.satisfies(['developer'], 'senior_developer')).toBe(false);
    expect(graph.satisfies(['viewer', 'admin'], 'senior_developer')).toBe(true);
    expect(graph.satisfies([], 'viewer')).toBe(false);
  });

  it('drop unknown role names so a deleted role grants nothing', () => {
    expect(graph.effective(['ghost', 'viewer'])).toEqual(['viewer']);
    expect(graph.permissions(['ghost'])).toEqual([]);
    expect(graph.satisfies(['ghost'], 'ghost')).toBe(false);
  });

  it('collect the permissions of every effective role', () => {
    const resources = graph.permissions(['developer']).map((p) => p.resource);
    expect(resources).toEqual(
      expect.arrayContaining(['tool:run_tests', 'tool:get_*', 'resource:*']),
    );
    expect(graph.permissions(['admin'])).toContainEqual({ resource: '*', action: '*' });
  });

  it('remember the permissions of a list of roles, frozen, keyed without collisions', () => {
    const first = graph.permissions(['developer']);
    expect(graph.permissions(['developer'])).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => (first as unknown[]).push({ resource: '*', action: '*' })).toThrow(TypeError);
    expect(graph.permissions(['developer'])).not.toContainEqual({ resource: '*', action: '*' });
    // Names that would run together in a joined key stay apart.
    const tricky = buildRoleGraph([
      role('ab', [], [{ resource: 'tool:x', action: 'invoke' }]),
      role('a'),
      role('b'),
    ]);
    expect(tricky.permissions(['a', 'b'])).toEqual([]);
    expect(tricky.permissions(['ab'])).toEqual([{ resource: 'tool:x', action: 'invoke' }]);
  });

  it('are frozen so a consumer cannot widen them by accident', () => {
    expect(Object.isFrozen(DEFAULT_ROLES)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ROLES[0].permissions[0])).toBe(true);
  });
});

describe('role graph validation', () => {
  it('refuses a parent that does not exist, naming both roles', () => {
    const error = policyError(() => buildRoleGraph([role('a', ['nope'])]));
    expect(error.code).toBe('ERR_ROLE_UNKNOWN_PARENT');
    expect(error.data).toEqual({ role: 'a', parent: 'nope' });
  });

  it('refuses an inheritance cycle, naming the roles on it', () => {
    const error = policyError(() =>
      buildRoleGraph([role('x'), role('a', ['c']), role('b', ['a']), role('c', ['b', 'x'])]),
    );
    expect(error.code).toBe('ERR_ROLE_CYCLE');
    expect(error.data.cycle).toEqual(['a', 'c', 'b', 'a']);
  });

  it('refuses a role that inherits itself', () => {
    expect(policyError(() => buildRoleGraph([role('a', ['a'])])).data.cycle).toEqual(['a', 'a']);
  });

  it('refuses two roles with the same name', () => {
    expect(policyError(() => buildRoleGraph([role('a'), role('a')])).code).toBe(
      'ERR_ROLE_DUPLICATE',
    );
  });

  it('lets the admin API refuse a change that would close a cycle', () => {
    const error = policyError(() => checkRoleChange(DEFAULT_ROLES, role('viewer', ['admin'])));
    expect(error.code).toBe('ERR_ROLE_CYCLE');
    expect(
      checkRoleChange(DEFAULT_ROLES, role('auditor', ['viewer'])).effective(['auditor']),
    ).toEqual(['auditor', 'viewer']);
  });

  it('lets the admin API refuse deleting a role that others inherit', () => {
    expect(policyError(() => checkRoleRemoval(DEFAULT_ROLES, 'viewer')).code).toBe(
      'ERR_ROLE_UNKNOWN_PARENT',
    );
    expect(policyError(() => checkRoleRemoval(DEFAULT_ROLES, 'ghost')).code).toBe(
      'ERR_ROLE_UNKNOWN',
    );
    expect(checkRoleRemoval(DEFAULT_ROLES, 'admin').has('admin')).toBe(false);
  });
});

/** Reference reachability and cycle detection (Kahn's algorithm), independent of the implementation. */
function reference(roles: Role[]) {
  const parents = new Map(roles.map((r) => [r.name, r.inherits]));
  const reach = (start: string) => {
    const seen = new Set<string>();
    const queue = [...parents.get(start)!];
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(...parents.get(next)!);
      }
    }
    return seen;
  };
  const indegree = new Map(roles.map((r) => [r.name, 0]));
  for (const r of roles) for (const p of r.inherits) indegree.set(p, indegree.get(p)! + 1);
  const ready = roles.filter((r) => indegree.get(r.name) === 0).map((r) => r.name);
  let removed = 0;
  while (ready.length > 0) {
    removed++;
    for (const p of parents.get(ready.pop()!)!) {
      indegree.set(p, indegree.get(p)! - 1);
      if (indegree.get(p) === 0) ready.push(p);
    }
  }
  return { reach, cyclic: removed < roles.length };
}

describe('role graph on random role sets', () => {
  const POOL = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];
  const roleSets = fc
    .uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: POOL.length })
    .chain((names) =>
      // Few parents per role, so both acyclic and cyclic sets come up often.
      fc.tuple(
        ...names.map((name) =>
          fc
            .uniqueArray(fc.constantFrom(...names), { maxLength: 2 })
            .map((inherits) => role(name, inherits)),
        ),
      ),
    );

  it('either refuses a cycle or yields effective sets that terminate and are closed under inheritance', () => {
    fc.assert(
      fc.property(roleSets, (roles) => {
        const { reach, cyclic } = reference(roles);
        let graph;
        try {
          graph = buildRoleGraph(roles);
        } catch (error) {
          expect((error as PolicyError).code).toBe('ERR_ROLE_CYCLE');
          expect(cyclic).toBe(true);
          const cycle = (error as PolicyError).data.cycle as string[];
          expect(cycle[0]).toBe(cycle.at(-1));
          return;
        }
        expect(cyclic).toBe(false);
        for (const r of roles) {
          const effective = graph.effective([r.name]);
          expect(new Set(effective).size).toBe(effective.length);
          expect(new Set(effective)).toEqual(new Set([r.name, ...reach(r.name)]));
          for (const member of effective) {
            for (const parent of graph.roles.get(member)!.inherits)
              expect(effective).toContain(parent);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
