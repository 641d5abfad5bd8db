import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, sdkProvider, startStack, USERS, type Stack } from './stack.ts';

/** Entries the SDK's transport keeps per request (MCP SDK issue #2559), read from its internals. */
interface Internals {
  _streamMapping: Map<string, unknown>;
  _requestToStreamMapping: Map<unknown, string>;
}
const internals = (t: StreamableHTTPServerTransport) =>
  (t as unknown as { _webStandardTransport: Internals })._webStandardTransport;
/** The client's standalone GET stream belongs to the session, not to a request. */
const perRequest = (t: StreamableHTTPServerTransport) =>
  [...internals(t)._streamMapping.keys()].filter((id) => id !== '_GET_stream').length;

describe('example MCP server memory per session', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Memory does not depend on the database: PGlite only. No rate limit, so every call succeeds.
    stack = await startStack('pglite', { protection: { tools: { rateLimit: false } } });
  }, 180_000);
  afterAll(() => stack?.close());

  it(
    'a long session keeps no entry per tool call in its transport',
    { timeout: 60_000 },
    async () => {
      // The transports the example builds, as they handle requests.
      const handled = vi.spyOn(StreamableHTTPServerTransport.prototype, 'handleRequest');
      const dev = await connect(stack.resource, sdkProvider(USERS.developer));
      try {
        const calls = 40;
        for (let i = 0; i < calls; i++) {
          const result = await dev.client.callTool({ name: 'list_services', arguments: {} });
          expect(result.isError).toBeFalsy();
        }
        const sessions = new Set(handled.mock.contexts as StreamableHTTPServerTransport[]);
        // One session, which handled every call.
        expect(sessions.size).toBe(1);
        const [transport] = sessions;
        expect(handled.mock.calls.length).toBeGreaterThan(calls);
        expect(perRequest(transport)).toBe(0);
        expect(internals(transport)._requestToStreamMapping.size).toBe(0);
      } finally {
        handled.mockRestore();
        await dev.client.close();
      }
    },
  );
});
