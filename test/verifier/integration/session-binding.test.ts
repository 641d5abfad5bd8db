import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  createTokenVerifier,
  expressAuth,
  koaAuth,
  nodeHttpAuth,
  type ResourceServerAuthOptions,
} from '../../../src/verifier/index.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RESOURCE, signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';

/**
 * MCP sessions are bound to the client and user that opened them, through every adapter, with
 * and without tool-call decisions: another caller naming a session (POST, GET, DELETE), or an id
 * the guard never saw opened, gets 404 as an unknown session, and the session goes on for its
 * owner. Real HTTP, the MCP SDK's stateful server and its client.
 */

let issuer: TestIssuer;
const servers: Started[] = [];
const urls: Record<string, string> = {};

/** The SDK's stateful pattern: `initialize` opens a session, later requests name it. */
function statefulMcp() {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  return async (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? sessions.get(id) : undefined;
    if (known) return known.handleRequest(req, res, body);
    if (id !== undefined || !isInitializeRequest(body)) {
      res.writeHead(400).end();
      return;
    }
    const server = new McpServer({ name: 'bound', version: '1.0.0' });
    server.registerTool('whoami', {}, (extra) => ({
      content: [{ type: 'text', text: String(extra.authInfo?.extra?.subject) }],
    }));
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };
}

beforeAll(async () => {
  issuer = await startIssuer();
  const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
  const withDecide: ResourceServerAuthOptions = {
    verifier,
    decide: () => ({ decision: 'allow' }),
  };
  const serve = (options: ResourceServerAuthOptions) => {
    const guard = nodeHttpAuth(options);
    const mcp = statefulMcp();
    return listen(
      createServer(async (req, res) => {
        if ((await guard(req, res)) === undefined) return;
        let body = (req as { body?: unknown }).body;
        if (body === undefined && req.method === 'POST') {
          // The guard without decide read nothing: the application parses the body itself.
          let text = '';
          for await (const chunk of req) text += String(chunk);
          body = JSON.parse(text);
        }
        await mcp(req, res, body);
      }),
    );
  };
  const nodeServer = await serve(withDecide);
  // Without decide the guard reads no body: the SDK's transport reads it.
  const bareServer = await serve({ verifier });
  const app = express();
  const expressMcp = statefulMcp();
  app.use(express.json(), expressAuth(withDecide));
  app.all('/mcp', (req, res) => void expressMcp(req, res, req.body));
  const expressServer = await listen(createServer(app));
  const koa = new Koa();
  const koaMcp = statefulMcp();
  koa.use(koaAuth(withDecide));
  koa.use(async (ctx) => {
    ctx.respond = false;
    await koaMcp(ctx.req, ctx.res, ctx.request.body);
  });
  const koaServer = await listen(createServer(koa.callback()));
  servers.push(nodeServer, bareServer, expressServer, koaServer);
  Object.assign(urls, {
    'node:http': nodeServer.url,
    'node:http without decide': bareServer.url,
    Express: expressServer.url,
    Koa: koaServer.url,
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await issuer.close();
});

describe.each(['node:http', 'node:http without decide', 'Express', 'Koa'])(
  'behind %s',
  (adapter) => {
    it('lets only the opener use a session; anyone else, and an unknown id, get 404', async () => {
      const url = `${urls[adapter]}/mcp`;
      const alice = await signAccessToken(issuer, { sub: 'alice' });
      const bob = await signAccessToken(issuer, { sub: 'bob' });
      // Alice's other token (same client and user) may go on with her session.
      const aliceAgain = await signAccessToken(issuer, { sub: 'alice' });
      const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${alice}` } },
      });
      const client = new Client({ name: 'alice', version: '1.0.0' });
      await client.connect(transport);
      const session = transport.sessionId!;
      expect(session).toMatch(/^[0-9a-f-]{36}$/);

      const as = (token: string, method: string, sessionId: string) =>
        fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': sessionId,
            'mcp-protocol-version': '2025-06-18',
          },
          ...(method === 'POST' && {
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'tools/call',
              params: { name: 'whoami', arguments: {} },
            }),
          }),
        });
      for (const method of ['POST', 'GET', 'DELETE']) {
        const res = await as(bob, method, session);
        expect(res.status, method).toBe(404);
        expect(await res.json()).toMatchObject({ error: { code: -32001 } });
      }
      const unknown = await as(alice, 'POST', randomUUID());
      expect(unknown.status).toBe(404);

      // Alice's session is untouched: Bob's DELETE did not end it.
      const mine = await client.callTool({ name: 'whoami', arguments: {} });
      expect(mine.content).toEqual([{ type: 'text', text: 'alice' }]);
      const again = await as(aliceAgain, 'POST', session);
      expect(again.status).toBe(200);
      await client.close();
    });
  },
);
