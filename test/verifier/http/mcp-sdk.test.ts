import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { nodeHttpAuth, type AuthenticatedRequest } from '../../../src/verifier/http/node.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import { listen, type Started } from './fixtures.ts';

let issuer: TestIssuer;
let http: Started;
let resource: string;
let handlerCalls = 0;

beforeAll(async () => {
  issuer = await startIssuer();
  const holder: { guard?: ReturnType<typeof nodeHttpAuth> } = {};
  http = await listen(
    createServer(async (req, res) => {
      if ((await holder.guard!(req, res)) === undefined) return;
      // Stateless MCP server: one server and transport per request, as in the SDK's examples.
      const server = new McpServer({ name: 'deploy-tools', version: '1.0.0' });
      for (const name of ['whoami', 'rollback_deployment']) {
        server.registerTool(name, { description: name }, async (extra) => {
          handlerCalls += 1;
          return {
            content: [
              {
                type: 'text',
                text: JSON.stringify({
                  clientId: extra.authInfo?.clientId,
                  roles: extra.authInfo?.extra?.roles,
                }),
              },
            ],
          };
        });
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      await server.connect(transport);
      await transport.handleRequest(
        req as AuthenticatedRequest,
        res,
        (req as AuthenticatedRequest).body,
      );
    }),
  );
  resource = `${http.url}/mcp`;
  holder.guard = nodeHttpAuth({
    verifier: createTokenVerifier({ issuer: issuer.issuer, resource }),
    decide: (_auth, call) =>
      call.name === 'rollback_deployment'
        ? { decision: 'deny', reason: 'not for you', requiredRole: 'admin' }
        : { decision: 'allow' },
  });
});
afterAll(async () => {
  await http.close();
  await issuer.close();
});

async function connect() {
  const token = await signAccessToken(issuer, { aud: resource, roles: ['developer'] });
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(resource), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe('with the MCP SDK server and client', () => {
  it('hands the principal to tool handlers as AuthInfo', async () => {
    const client = await connect();
    try {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(JSON.parse((result.content as Array<{ text: string }>)[0].text)).toEqual({
        clientId: 'agent-1',
        roles: ['developer'],
      });
    } finally {
      await client.close();
    }
  });

  it('surfaces a denied call to the SDK client as error -32002 without running the tool', async () => {
    const client = await connect();
    const before = handlerCalls;
    try {
      await expect(
        client.callTool({ name: 'rollback_deployment', arguments: {} }),
      ).rejects.toMatchObject({ code: -32002, data: { requiredRole: 'admin' } });
      expect(handlerCalls).toBe(before);
    } finally {
      await client.close();
    }
  });
});
