import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildRoleGraph, CatalogueSchema, DEFAULT_ROLES } from '../../../src/policy/index.ts';
import { decideWith } from '../../../src/verifier/policy-client/decisions.ts';
import type { Policy } from '../../../src/verifier/policy-client/bundle.ts';
import { argumentsSha256 } from '../../../src/verifier/policy-client/tool-binding.ts';
import type { VerifiedToken } from '../../../src/verifier/index.ts';

const RESOURCE = 'http://localhost:4000/mcp';
const policy: Policy = {
  version: 'test',
  source: 'file',
  catalogue: CatalogueSchema.parse(
    JSON.parse(readFileSync(new URL('../../../scopes.json', import.meta.url), 'utf8')),
  ),
  roles: buildRoleGraph(DEFAULT_ROLES),
};
const approved = { service: 'api', environment: 'production', version: '1.4.2' };

function token(details?: unknown[]): VerifiedToken {
  const claims = {
    scope: 'mcp:tools:read mcp:resources:read mcp:deploy:production',
    ...(details ? { authorization_details: details } : {}),
  };
  return {
    token: 't',
    clientId: 'agent',
    scopes: claims.scope.split(' '),
    expiresAt: 0,
    subject: 'u1',
    roles: ['senior_developer', 'developer', 'viewer'],
    resource: new URL(RESOURCE),
    claims,
  } as VerifiedToken;
}

describe('an elevation bound to one exact tool call', () => {
  const bound = token([
    { type: 'mcp_tool_call', tool: 'deploy_service', arguments_sha256: argumentsSha256(approved) },
  ]);

  it('allows exactly the approved call, whatever the key order of its arguments', () => {
    expect(
      decideWith(
        policy,
        RESOURCE,
        bound,
        {
          name: 'deploy_service',
          arguments: { version: '1.4.2', service: 'api', environment: 'production' },
        },
        new Date(),
      ),
    ).toEqual({ decision: 'allow' });
  });

  it('denies the same tool with other arguments, and another elevated tool', () => {
    expect(
      decideWith(
        policy,
        RESOURCE,
        bound,
        { name: 'deploy_service', arguments: { ...approved, version: '9.9.9' } },
        new Date(),
      ),
    ).toMatchObject({ decision: 'deny' });
    expect(
      decideWith(
        policy,
        RESOURCE,
        bound,
        { name: 'rollback_deployment', arguments: { service: 'api', environment: 'production' } },
        new Date(),
      ),
    ).toMatchObject({ decision: 'deny' });
  });

  it('leaves base-scope calls and unbound elevated tokens alone', () => {
    expect(
      decideWith(policy, RESOURCE, bound, { name: 'list_services', arguments: {} }, new Date()),
    ).toEqual({ decision: 'allow' });
    expect(
      decideWith(
        policy,
        RESOURCE,
        token(),
        { name: 'deploy_service', arguments: { ...approved, version: '9.9.9' } },
        new Date(),
      ),
    ).toEqual({ decision: 'allow' });
  });
});
