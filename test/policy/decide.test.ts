import { describe, expect, it } from 'vitest';
import {
  RoleSchema,
  buildRoleGraph,
  decide,
  parseCatalogue,
  toolVisible,
} from '../../src/policy/index.ts';
import type { DecideInput, Decision } from '../../src/policy/index.ts';
import { defaultCatalogue, defaultRoles } from './fixtures.ts';

const NOW = new Date('2025-01-15T12:00:00Z');
const BASE = ['mcp:tools:read', 'mcp:resources:read'];

function run(
  role: string,
  name: string,
  args: Record<string, unknown> | undefined,
  tokenScopes: string[] = BASE,
  extra: Partial<DecideInput> = {},
) {
  return decide({
    roles: defaultRoles,
    catalogue: defaultCatalogue,
    principal: { subject: 'user-1', roles: [role] },
    call: { name, arguments: args },
    tokenScopes,
    now: NOW,
    ...extra,
  });
}

describe('decide() with the default roles and scopes.json', () => {
  it.each<
    [string, string, string, Record<string, unknown> | undefined, string[], Partial<Decision>]
  >([
    [
      'a developer deploying to staging with only base scopes is asked to step up',
      'developer',
      'deploy_service',
      { environment: 'staging' },
      BASE,
      { decision: 'step_up', scopes: ['mcp:deploy:staging'] },
    ],
    [
      'a developer holding mcp:deploy:staging may deploy to staging',
      'developer',
      'deploy_service',
      { environment: 'staging' },
      [...BASE, 'mcp:deploy:staging'],
      { decision: 'allow', scope: 'mcp:deploy:staging' },
    ],
    [
      'base scopes count as held even when the token omits them',
      'developer',
      'deploy_service',
      { environment: 'development' },
      ['mcp:deploy:staging'],
      { decision: 'allow', scope: 'mcp:deploy:staging' },
    ],
    [
      'a developer deploying to production is denied, naming senior_developer',
      'developer',
      'deploy_service',
      { environment: 'production' },
      BASE,
      { decision: 'deny', requiredRole: 'senior_developer' },
    ],
    [
      'a developer holding the staging scope still cannot deploy to production',
      'developer',
      'deploy_service',
      { environment: 'production' },
      [...BASE, 'mcp:deploy:staging'],
      { decision: 'deny', requiredRole: 'senior_developer' },
    ],
    [
      'a viewer reads service metrics with base scopes',
      'viewer',
      'get_service_metrics',
      {},
      BASE,
      { decision: 'allow', scope: 'mcp:tools:read' },
    ],
    [
      'a viewer running tests is denied, naming developer',
      'viewer',
      'run_tests',
      {},
      BASE,
      { decision: 'deny', requiredRole: 'developer' },
    ],
    [
      'a senior developer deploying to production without the scope is asked to step up',
      'senior_developer',
      'deploy_service',
      { environment: 'production' },
      BASE,
      { decision: 'step_up', scopes: ['mcp:deploy:production'] },
    ],
    [
      'a senior developer holding mcp:deploy:production may deploy there',
      'senior_developer',
      'deploy_service',
      { environment: 'production' },
      [...BASE, 'mcp:deploy:production'],
      { decision: 'allow', scope: 'mcp:deploy:production' },
    ],
    [
      "a senior developer may step up to a lower role's scope",
      'senior_developer',
      'deploy_service',
      { environment: 'staging' },
      BASE,
      { decision: 'step_up', scopes: ['mcp:deploy:staging'] },
    ],
    [
      'the production scope does not stretch to staging',
      'senior_developer',
      'deploy_service',
      { environment: 'staging' },
      [...BASE, 'mcp:deploy:production'],
      { decision: 'step_up', scopes: ['mcp:deploy:staging'] },
    ],
    [
      'an admin rolling back is asked to step up to production',
      'admin',
      'rollback_deployment',
      {},
      BASE,
      { decision: 'step_up', scopes: ['mcp:deploy:production'] },
    ],
    [
      'an absent environment argument fails closed',
      'senior_developer',
      'deploy_service',
      {},
      [...BASE, 'mcp:deploy:production'],
      { decision: 'deny' },
    ],
    [
      'missing arguments altogether fail closed',
      'developer',
      'deploy_service',
      undefined,
      [...BASE, 'mcp:deploy:staging'],
      { decision: 'deny' },
    ],
    [
      'an environment that merely looks right is refused',
      'developer',
      'deploy_service',
      { environment: 'staging ' },
      [...BASE, 'mcp:deploy:staging'],
      { decision: 'deny' },
    ],
    [
      'a principal whose only role no longer exists is denied',
      'ghost',
      'get_service_metrics',
      {},
      BASE,
      { decision: 'deny', requiredRole: 'viewer' },
    ],
    [
      'a token scope missing from the catalogue grants nothing',
      'developer',
      'run_tests',
      {},
      [...BASE, 'mcp:everything'],
      { decision: 'step_up', scopes: ['mcp:deploy:staging'] },
    ],
  ])('%s', (_name, role, tool, args, scopes, expected) => {
    expect(run(role, tool, args, scopes)).toMatchObject(expected);
  });

  it('denies an admin a tool that no scope grants, without naming a role', () => {
    const decision = run('admin', 'format_disk', {}, BASE);
    expect(decision).toMatchObject({
      decision: 'deny',
      reason: 'no scope held or obtainable grants tool "format_disk"',
    });
    expect(decision).not.toHaveProperty('requiredRole');
  });

  it('explains a fail-closed deny by naming the missing argument', () => {
    const decision = run('developer', 'deploy_service', {}, BASE);
    expect(decision.decision).toBe('deny');
    expect((decision as { reason: string }).reason).toContain(
      'argument "environment" is required by the policy but absent',
    );
  });

  it('offers only scopes the named MCP server accepts', () => {
    const args = { environment: 'staging' };
    expect(
      run('developer', 'deploy_service', args, BASE, { resource: 'http://localhost:4000/mcp' }),
    ).toMatchObject({ decision: 'step_up', scopes: ['mcp:deploy:staging'] });
    expect(
      run('developer', 'deploy_service', args, BASE, { resource: 'http://localhost:9999/other' }),
    ).toMatchObject({ decision: 'deny' });
  });

  it('treats a malformed call as a caller bug', () => {
    expect(() => run('developer', undefined as unknown as string, {})).toThrow(TypeError);
    expect(() => run('developer', 'run_tests', {}, BASE, { now: new Date(Number.NaN) })).toThrow(
      TypeError,
    );
  });
});

describe('decide() with cost and parameter conditions', () => {
  const roles = buildRoleGraph([
    RoleSchema.parse({
      name: 'shopper',
      permissions: [{ resource: 'tool:buy', conditions: { maxCost: 100 } }],
    }),
    RoleSchema.parse({
      name: 'operator',
      permissions: [
        {
          resource: 'tool:restart',
          conditions: { params: { region: ['eu', 'us'], force: [false] } },
        },
      ],
    }),
    RoleSchema.parse({ name: 'buyer_lead', inherits: ['shopper'] }),
    RoleSchema.parse({ name: 'intern', permissions: [{ resource: 'tool:buy' }] }),
  ]);
  const catalogue = parseCatalogue(
    {
      baseScopes: ['ops:restart'],
      resources: {},
      scopes: {
        'ops:restart': {
          description: 'Restart EU services',
          grants: [{ resource: 'tool:restart', conditions: { params: { region: ['eu'] } } }],
        },
        'shop:small': {
          description: 'Small purchases',
          minRole: 'shopper',
          expiresIn: 300,
          grants: [{ resource: 'tool:buy', conditions: { maxCost: 50 } }],
        },
        'shop:large': {
          description: 'Large purchases',
          minRole: 'shopper',
          expiresIn: 60,
          grants: [{ resource: 'tool:buy', conditions: { maxCost: 100 } }],
        },
        'shop:huge': {
          description: 'Huge purchases',
          minRole: 'buyer_lead',
          expiresIn: 60,
          grants: [{ resource: 'tool:buy' }],
        },
      },
    },
    roles.roles.keys(),
  );
  const call = (
    role: string,
    name: string,
    args: Record<string, unknown>,
    tokenScopes: string[] = [],
  ) =>
    decide({
      roles,
      catalogue,
      principal: { subject: 's', roles: [role] },
      call: { name, arguments: args },
      tokenScopes,
      now: NOW,
    });

  it.each<[string, string, string, Record<string, unknown>, string[], Partial<Decision>]>([
    [
      'a cheap purchase offers every eligible scope, shortest-lived first',
      'shopper',
      'buy',
      { cost: 40 },
      [],
      { decision: 'step_up', scopes: ['shop:large', 'shop:small'] },
    ],
    [
      'a purchase above the small limit offers only the large scope',
      'shopper',
      'buy',
      { cost: 80 },
      ['shop:small'],
      { decision: 'step_up', scopes: ['shop:large'] },
    ],
    [
      'a purchase at the exact limit is allowed',
      'shopper',
      'buy',
      { cost: 50 },
      ['shop:small'],
      { decision: 'allow', scope: 'shop:small' },
    ],
    [
      'a purchase above the role ceiling is denied',
      'shopper',
      'buy',
      { cost: 150 },
      ['shop:large'],
      { decision: 'deny' },
    ],
    [
      'a purchase without a cost fails closed',
      'shopper',
      'buy',
      {},
      ['shop:large'],
      { decision: 'deny' },
    ],
    [
      'a restart in an allowed region with the allowed flag passes the base scope',
      'operator',
      'restart',
      { region: 'eu', force: false },
      [],
      { decision: 'allow', scope: 'ops:restart' },
    ],
    [
      'a restart in a region the role allows but no scope grants is denied',
      'operator',
      'restart',
      { region: 'us', force: false },
      [],
      { decision: 'deny' },
    ],
    [
      'a forced restart is beyond the role',
      'operator',
      'restart',
      { region: 'eu', force: true },
      [],
      { decision: 'deny' },
    ],
    [
      'a role that allows the call but is below every helpful scope gets the lowest minRole',
      'intern',
      'buy',
      { cost: 40 },
      [],
      { decision: 'deny', requiredRole: 'shopper' },
    ],
    [
      'only the scopes that would help decide the role named',
      'intern',
      'buy',
      { cost: 500 },
      [],
      { decision: 'deny', requiredRole: 'buyer_lead' },
    ],
  ])('%s', (_name, role, tool, args, scopes, expected) => {
    expect(call(role, tool, args, scopes)).toMatchObject(expected);
  });
});

describe('toolVisible()', () => {
  const visible = (role: string, name: string, tokenScopes: string[] = BASE) =>
    toolVisible({
      roles: defaultRoles,
      catalogue: defaultCatalogue,
      principal: { subject: 'u', roles: [role] },
      tokenScopes,
      name,
    });

  it('shows a viewer the read tools and hides everything else', () => {
    expect(visible('viewer', 'get_service_metrics')).toBe(true);
    expect(visible('viewer', 'list_services')).toBe(true);
    expect(visible('viewer', 'deploy_service')).toBe(false);
  });

  it('shows a developer the tools it could reach by stepping up', () => {
    expect(visible('developer', 'deploy_service')).toBe(true);
    expect(visible('developer', 'rollback_deployment')).toBe(false);
  });

  it('hides a tool the roles allow when no scope could ever grant it', () => {
    expect(visible('admin', 'format_disk')).toBe(false);
  });
});
