import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPolicyClient,
  type FetchLike,
  type PolicyClient,
} from '../../../src/verifier/index.ts';
import { databaseKinds } from '../../helpers/databases.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const RESOURCE = 'http://localhost:4000/mcp';

describe.each(databaseKinds())(
  'policy client against the real authorization server (%s)',
  (kind) => {
    let t: TestServer;
    let policy: PolicyClient;
    const statuses: Array<{ path: string; status: number }> = [];
    const countingFetch: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push({ path: new URL(input).pathname, status: response.status });
      return response;
    };

    beforeAll(async () => {
      t = await startTestServer(kind);
      policy = createPolicyClient({
        issuer: t.url,
        resource: RESOURCE,
        fetch: countingFetch,
        refreshMs: 3_600_000,
      });
      await policy.ready();
    });
    afterAll(async () => {
      await policy?.close();
      await t?.close();
    });

    it('verifies the served bundle with the server keys and decides with its catalogue and roles', async () => {
      expect(policy.stats()).toMatchObject({
        policySource: 'bundle',
        policyVersion: expect.any(String),
      });
      expect(policy.baseScopes()).toEqual(['mcp:tools:read', 'mcp:resources:read']);
      const developer = {
        token: 't',
        clientId: 'agent',
        scopes: policy.baseScopes(),
        extra: { subject: 'u1', roles: ['developer', 'viewer'] },
      };
      expect(
        await policy.decide(developer, {
          name: 'deploy_service',
          arguments: { environment: 'staging' },
        }),
      ).toEqual({ decision: 'step_up', scopes: ['mcp:deploy:staging'] });
      expect(await policy.decide(developer, { name: 'rollback_deployment' })).toMatchObject({
        decision: 'deny',
        requiredRole: 'senior_developer',
      });
    });

    it('revalidates an unchanged bundle with a 304, and picks up a role change', async () => {
      await policy.refresh();
      expect(statuses.filter((s) => s.path === '/policy/v1/bundle').map((s) => s.status)).toEqual([
        200, 304,
      ]);
      const before = policy.current()!.version;

      // As the admin API does: write the role, then drop the server's cached role set.
      await t.server.db.db
        .insertInto('role')
        .values({
          name: 'release_manager',
          description: '',
          inherits: JSON.stringify(['senior_developer']),
          permissions: '[]',
        })
        .execute();
      t.server.roles.invalidate();
      await policy.refresh();
      expect(statuses.at(-1)).toEqual({ path: '/policy/v1/bundle', status: 200 });
      expect(policy.current()!.version).not.toBe(before);
      expect(policy.current()!.roles.has('release_manager')).toBe(true);
    });

    it('reads the signed revocation feed', async () => {
      await policy.syncRevocations();
      expect(statuses.some((s) => s.path === '/elevation/v1/revocations' && s.status === 200)).toBe(
        true,
      );
      expect(policy.stats()).toMatchObject({
        revocationsSyncedAt: expect.any(Date),
        lastRevocationError: undefined,
      });
    });
  },
);
