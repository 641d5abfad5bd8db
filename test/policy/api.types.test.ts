import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as policy from '../../src/policy/index.ts';
import {
  DEFAULT_ROLES,
  buildRoleGraph,
  decide,
  type Catalogue,
  type DecideInput,
  type Decision,
  type Principal,
  type RoleGraph,
  type ToolCall,
} from '../../src/policy/index.ts';

// The `expectTypeOf` assertions are checked by `npm run typecheck` (test files are in tsconfig);
// at run time they are no-ops, so each block also runs what it describes.

describe('mcp-elevate/policy: decide', () => {
  it('takes plain data and an injected clock', () => {
    expectTypeOf(decide).parameters.toEqualTypeOf<[DecideInput]>();
    expectTypeOf<DecideInput>().toEqualTypeOf<{
      roles: RoleGraph;
      catalogue: Catalogue;
      principal: Principal;
      call: ToolCall;
      tokenScopes: readonly string[];
      now: Date;
      resource?: string;
    }>();
    expectTypeOf<Principal>().toEqualTypeOf<{ subject: string; roles: readonly string[] }>();
    expectTypeOf<ToolCall['name']>().toEqualTypeOf<string>();
    // @ts-expect-error the clock is passed in, never read by the engine: `now` is required
    const noClock: DecideInput = { ...input(), now: undefined };
    expect(noClock.now).toBeUndefined();
  });

  it('returns synchronously one of three decisions, each with its own fields', () => {
    expectTypeOf(decide).returns.toEqualTypeOf<Decision>();
    expectTypeOf<Decision['decision']>().toEqualTypeOf<'allow' | 'step_up' | 'deny'>();
    expectTypeOf<Extract<Decision, { decision: 'allow' }>>().toEqualTypeOf<{
      decision: 'allow';
      scope: string;
    }>();
    expectTypeOf<Extract<Decision, { decision: 'step_up' }>>().toEqualTypeOf<{
      decision: 'step_up';
      scopes: string[];
      reason: string;
    }>();
    expectTypeOf<Extract<Decision, { decision: 'deny' }>>().toEqualTypeOf<{
      decision: 'deny';
      reason: string;
      requiredRole?: string;
    }>();
    // @ts-expect-error there is no fourth outcome
    const maybe: Decision = { decision: 'maybe', reason: 'unsure' };
    expect(maybe.decision).toBe('maybe');

    // An empty catalogue grants nothing: the call is denied, with a reason for the logs.
    const decision = decide(input());
    expect(decision.decision).toBe('deny');
    expect(describeDecision(decision)).toMatch(/^deny: \S/);
  });

  it('names its exports one by one: the entry point has no `export *`', () => {
    const source = readFileSync(new URL('../../src/policy/index.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^export \*/m);
    expect(Object.keys(policy)).toContain('decide');
  });
});

/** An exhaustive switch over the union: adding a fourth decision breaks this at compile time. */
function describeDecision(d: Decision): string {
  switch (d.decision) {
    case 'allow':
      return `allow with ${d.scope}`;
    case 'step_up':
      return `step up to ${d.scopes.join(' ')}`;
    case 'deny':
      return `deny: ${d.reason}`;
    default: {
      const unreachable: never = d;
      return unreachable;
    }
  }
}

function input(): DecideInput {
  return {
    roles: buildRoleGraph(DEFAULT_ROLES),
    catalogue: { resources: {}, baseScopes: [], scopes: {} } as unknown as Catalogue,
    principal: { subject: 'alice', roles: ['developer'] },
    call: { name: 'deploy_service', arguments: {} },
    tokenScopes: [],
    now: new Date('2025-01-01T12:00:00Z'),
  };
}
