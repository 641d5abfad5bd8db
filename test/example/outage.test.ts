import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditClient } from '../../src/verifier/index.ts';
import { databaseKinds } from '../helpers/databases.ts';
import {
  authorizationCode,
  connect,
  connectWithToken,
  EXAMPLE_CLIENT,
  sdkProvider,
  startStack,
  toolJson,
  USERS,
  waitFor,
  type Stack,
} from './stack.ts';

/** Remembers the id of every event the audit client queues: the ids ingestion is idempotent by. */
function captureEventIds(audit: AuditClient): string[] {
  const ids: string[] = [];
  const record = audit.record.bind(audit);
  audit.record = (input) => {
    const event = record(input);
    ids.push(event.id);
    return event;
  };
  return ids;
}

describe.each(databaseKinds())(
  'the example MCP server while the authorization server is down (%s)',
  (kind) => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack(kind, {
        clientId: EXAMPLE_CLIENT.id,
        clientSecret: EXAMPLE_CLIENT.secret,
        // Short retry delays keep the test quick; delivery semantics are the defaults'.
        protection: { audit: { retryBaseMs: 200, retryMaxMs: 1_000, flushIntervalMs: 200 } },
      });
    });
    afterAll(() => stack?.close());

    it(
      'keeps verifying tokens from the cached keys, queues audit events, and delivers them all after a restart',
      { timeout: 90_000 },
      async () => {
        const audit = stack.example.protection.audit!;
        const ids = captureEventIds(audit);
        const dev = await connect(stack.resource, sdkProvider(USERS.developer));
        expect(
          (await dev.client.callTool({ name: 'list_services', arguments: {} })).isError,
        ).toBeFalsy();
        // A second user's token the MCP server has never seen: it can only be checked with the keys.
        const viewer = sdkProvider(USERS.viewer);
        expect(await auth(viewer, { serverUrl: stack.resource })).toBe('REDIRECT');
        expect(
          await auth(viewer, {
            serverUrl: stack.resource,
            authorizationCode: authorizationCode(viewer),
          }),
        ).toBe('AUTHORIZED');
        await audit.flush();
        const sentBefore = audit.stats().sent;

        await stack.t.stop();
        const outageIds = ids.length;
        expect(
          toolJson(
            await dev.client.callTool({
              name: 'check_service_health',
              arguments: { service: 'billing', environment: 'production' },
            }),
          ).service,
        ).toBe('billing');
        const viewerClient = await connectWithToken(stack.resource, viewer.saved!.access_token);
        try {
          expect(
            (
              await viewerClient.callTool({
                name: 'get_service_metrics',
                arguments: { service: 'search' },
              })
            ).structuredContent,
          ).toMatchObject({ service: 'search' });
          // Refused at the HTTP edge with the cached policy; the refusal is audited too.
          await expect(
            viewerClient.callTool({
              name: 'deploy_service',
              arguments: { service: 'search', environment: 'staging', version: '1.0.0' },
            }),
          ).rejects.toMatchObject({ code: -32002, data: { requiredRole: 'developer' } });
        } finally {
          await viewerClient.close();
        }
        await dev.client.close();
        expect(ids.length - outageIds).toBe(3);
        await audit.flush();
        expect(audit.stats()).toMatchObject({ sent: sentBefore, rejected: 0 });
        expect(audit.stats().queued).toBeGreaterThanOrEqual(3);

        stack.t = await stack.t.restart();
        const db = stack.t.server.db.db;
        const stored = async () =>
          (await db.selectFrom('audit_event').select('id').where('id', 'in', ids).execute()).length;
        const delivered = await waitFor(async () => (await stored()) === ids.length, 30_000, 250);
        expect({ delivered, stored: await stored(), expected: ids.length }).toEqual({
          delivered: true,
          stored: ids.length,
          expected: ids.length,
        });
        expect(audit.stats()).toMatchObject({ queued: 0, rejected: 0, dropped: 0 });
      },
    );
  },
);
