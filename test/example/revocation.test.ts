import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import {
  authorizationCode,
  connect,
  connectWithToken,
  sdkProvider,
  startStack,
  USERS,
  type Stack,
} from './stack.ts';

describe.each(databaseKinds())('revoked elevations at the example MCP server (%s)', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    // The default poll interval: what a deployment gets without tuning.
    stack = await startStack(kind);
  });
  afterAll(() => stack?.close());

  it(
    'refuses an elevated token within 10 s of its elevation being revoked',
    { timeout: 60_000 },
    async () => {
      const provider = sdkProvider(USERS.developer, { justification: 'hotfix for INC-7' });
      const dev = await connect(stack.resource, provider);
      const call = {
        name: 'deploy_service',
        arguments: { service: 'search', environment: 'staging', version: '3.1.4' },
      };
      await expect(dev.client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
      await dev.transport.finishAuth(authorizationCode(provider));
      await dev.client.close();
      const elevated = provider.saved!.access_token;
      const elevation = decodeJwt(elevated).elevation as string;
      expect(elevation).toEqual(expect.any(String));

      // A client holding just this token, unable to re-authorize: a refusal stays visible as a 401.
      const client = await connectWithToken(stack.resource, elevated);
      try {
        expect((await client.callTool(call)).isError).toBeFalsy();
        await stack.t.server.elevation.revoke(elevation, 'security-officer');
        const revokedAt = performance.now();
        let refusal: unknown;
        while (refusal === undefined && performance.now() - revokedAt < 15_000) {
          refusal = await client.callTool({ name: 'list_services', arguments: {} }).then(
            () => undefined,
            (error: unknown) => error,
          );
          if (refusal === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const elapsed = performance.now() - revokedAt;
        expect(refusal).toMatchObject({ code: 401 });
        expect(String((refusal as Error).message)).toContain('elevation revoked');
        expect(elapsed).toBeLessThan(10_000);
        expect(stack.example.protection.policy.isRevoked(elevation)).toBe(true);
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  );
});
