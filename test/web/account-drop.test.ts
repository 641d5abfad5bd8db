import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { signIn } from '../approvals/fixture.ts';
import {
  authorizationCode,
  connect,
  connectWithToken,
  sdkProvider,
  startStack,
  USERS,
  type Stack,
} from '../example/stack.ts';
import { accountCsrf, postForm } from './account-fixture.ts';

describe.each(databaseKinds())('dropping an elevation on the account page (%s)', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  }, 180_000);
  afterAll(() => stack?.close());

  it(
    'the example MCP server refuses the dropped elevation within 10 s; the drop is audited as the API revoke is',
    { timeout: 90_000 },
    async () => {
      // A real step-up through the MCP SDK: 403 insufficient_scope, consent, elevated token.
      const provider = sdkProvider(USERS.developer, { justification: 'hotfix for INC-9' });
      const dev = await connect(stack.resource, provider);
      const call = {
        name: 'deploy_service',
        arguments: { service: 'search', environment: 'staging', version: '3.1.5' },
      };
      await expect(dev.client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
      await dev.transport.finishAuth(authorizationCode(provider));
      await dev.client.close();
      const elevated = provider.saved!.access_token;
      const elevation = decodeJwt(elevated).elevation as string;
      const client = await connectWithToken(stack.resource, elevated);
      try {
        expect((await client.callTool(call)).isError).toBeFalsy();

        const { browser, res } = await signIn(
          stack.t,
          USERS.developer.email,
          USERS.developer.password,
          '/account',
        );
        expect(res.status).toBe(303);
        const page = await (await browser.request(`${stack.t.url}/account`)).text();
        expect(page).toContain(`data-elevation="${elevation}"`);
        const csrf = await accountCsrf(browser, stack.t);
        const drop = await postForm(
          browser,
          `${stack.t.url}/account/elevations/${elevation}/drop`,
          { csrf },
        );
        expect(drop.status).toBe(303);
        expect(drop.headers.get('location')).toBe('/account?done=dropped#notice');
        const droppedAt = performance.now();

        let refusal: unknown;
        while (refusal === undefined && performance.now() - droppedAt < 15_000) {
          refusal = await client.callTool({ name: 'list_services', arguments: {} }).then(
            () => undefined,
            (error: unknown) => error,
          );
          if (refusal === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(refusal).toMatchObject({ code: 401 });
        expect(String((refusal as Error).message)).toContain('elevation revoked');
        expect(performance.now() - droppedAt).toBeLessThan(10_000);

        const after = await (await browser.request(`${stack.t.url}/account?done=dropped`)).text();
        expect(after).toContain('The elevation was dropped.');
        expect(after).not.toContain(`data-elevation="${elevation}"`);
        // Dropping it again changes nothing.
        const again = await postForm(
          browser,
          `${stack.t.url}/account/elevations/${elevation}/drop`,
          { csrf },
        );
        expect(again.headers.get('location')).toBe('/account?done=ended#notice');

        const me = (await stack.t.server.users.findCredentials(USERS.developer.email))!.id;
        await stack.t.server.audit.flush();
        const events = await stack.t.server.db.db
          .selectFrom('audit_event')
          .select(['actor', 'subject', 'data'])
          .where('action', '=', 'elevation.revoked')
          .execute();
        expect(events).toEqual([
          expect.objectContaining({
            data: expect.objectContaining({ elevation }),
          }),
        ]);
        // The requester dropped their own elevation: actor and subject are both them.
        expect(events[0]).toMatchObject({ actor: me, subject: me });
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  );
});
