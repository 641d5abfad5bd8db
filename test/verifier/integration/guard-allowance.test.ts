import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  createTokenVerifier,
  createToolProtection,
  createToolMetrics,
  expressAuth,
  koaAuth,
  nodeHttpAuth,
  type DecideToolCall,
  type ToolCallDecision,
} from '../../../src/verifier/index.ts';
import type { ToolCall } from '../../../src/verifier/http/decide.ts';
import { postToolCall, serveStateless } from '../../helpers/mcp-http.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RESOURCE, signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';

/**
 * A call the HTTP guard allowed is not decided again by `protectMcpServer` when the protection
 * trusts that guard (`guardDecide`): and only then, only for that very call, and never for
 * arguments the tool's schema changed. Real HTTP, the MCP SDK's stateless server, each adapter.
 */

let issuer: TestIssuer;
const guardCalls: ToolCall[] = [];
const toolCalls: ToolCall[] = [];
/** The guard's decide: allows everything (it does not look at `environment`). */
const guardDecide: DecideToolCall = (_auth, call) => {
  guardCalls.push(call);
  return { decision: 'allow' };
};
/** The tool protection's decide: refuses production deployments. */
const toolDecide = (_auth: AuthInfo, call: ToolCall): ToolCallDecision => {
  toolCalls.push(call);
  return call.arguments.environment === 'production'
    ? { decision: 'deny', reason: 'production needs an approval' }
    : { decision: 'allow' };
};
const metrics = createToolMetrics();
const trusting = createToolProtection({
  decide: toolDecide,
  guardDecide,
  visible: () => true,
  rateLimit: false,
  metrics,
});
const distrusting = createToolProtection({
  decide: toolDecide,
  // Another function than the guard's: its allowances must not count.
  guardDecide: (auth, call) => guardDecide(auth, call),
  visible: () => true,
  rateLimit: false,
  metrics: createToolMetrics(),
});
const unset = createToolProtection({
  decide: toolDecide,
  visible: () => true,
  rateLimit: false,
  metrics: createToolMetrics(),
});

const ok = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/** The SDK's stateless pattern, protected by `protection`. */
async function serveMcp(
  protection: typeof trusting,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = new McpServer({ name: 'allowance', version: '1.0.0' });
  const tools = protection(server);
  tools.registerTool('list_services', { annotations: { readOnlyHint: true } }, () =>
    ok('api, web'),
  );
  tools.registerTool(
    'deploy',
    { inputSchema: { service: z.string(), environment: z.string().default('production') } },
    ({ service, environment }) => ok(`${service} to ${environment}`),
  );
  await serveStateless(server, req, res, body);
}

const protections = { trusting, distrusting, unset } as const;
type Which = keyof typeof protections;
const servers: Started[] = [];
const urls: Record<string, string> = {};

beforeAll(async () => {
  issuer = await startIssuer();
  const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
  const options = { verifier, decide: guardDecide };
  const node = nodeHttpAuth(options);
  const nodeServer = await listen(
    createServer(async (req, res) => {
      if ((await node(req, res)) === undefined) return;
      const which = new URL(req.url!, 'http://x').searchParams.get('p') as Which;
      await serveMcp(protections[which], req, res, (req as { body?: unknown }).body);
    }),
  );
  const app = express();
  app.use(express.json(), expressAuth(options));
  app.post('/mcp', (req, res) => {
    void serveMcp(protections[req.query.p as Which], req, res, req.body);
  });
  const expressServer = await listen(createServer(app));
  const koa = new Koa();
  koa.use(koaAuth(options));
  koa.use(async (ctx) => {
    ctx.respond = false;
    await serveMcp(protections[ctx.query.p as Which], ctx.req, ctx.res, ctx.request.body);
  });
  const koaServer = await listen(createServer(koa.callback()));
  servers.push(nodeServer, expressServer, koaServer);
  Object.assign(urls, {
    'node:http': nodeServer.url,
    Express: expressServer.url,
    Koa: koaServer.url,
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await issuer.close();
});
beforeEach(() => {
  guardCalls.length = 0;
  toolCalls.length = 0;
});

async function call(
  adapter: string,
  which: Which,
  name: string,
  args: Record<string, unknown>,
): Promise<{ result?: { content: Array<{ text: string }> }; error?: { code: number } }> {
  const token = await signAccessToken(issuer, { roles: ['developer'] });
  const res = await postToolCall(`${urls[adapter]}/mcp?p=${which}`, name, args, {
    authorization: `Bearer ${token}`,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

describe.each(['node:http', 'Express', 'Koa'])('behind %s', (adapter) => {
  it('a call the trusted guard allowed is decided once, and still counted as allowed', async () => {
    const before = (await metrics.authDecisions.get()).values.find(
      (v) => v.labels.decision === 'allow',
    )?.value;
    const answer = await call(adapter, 'trusting', 'list_services', {});
    expect(answer.result?.content[0].text).toBe('api, web');
    expect(guardCalls).toEqual([{ name: 'list_services', arguments: {} }]);
    expect(toolCalls).toEqual([]);
    const after = (await metrics.authDecisions.get()).values.find(
      (v) => v.labels.decision === 'allow',
    )?.value;
    expect((after ?? 0) - (before ?? 0)).toBe(1);
  });

  it('the same call with the same explicit arguments is decided once', async () => {
    const answer = await call(adapter, 'trusting', 'deploy', {
      service: 'api',
      environment: 'staging',
    });
    expect(answer.result?.content[0].text).toBe('api to staging');
    expect(guardCalls).toHaveLength(1);
    expect(toolCalls).toEqual([]);
  });

  it('arguments the schema filled in are decided again, on what the tool receives', async () => {
    // The guard saw { service } and allowed it; the tool would get environment "production".
    const answer = await call(adapter, 'trusting', 'deploy', { service: 'api' });
    expect(answer.error?.code).toBe(-32002);
    expect(guardCalls).toEqual([{ name: 'deploy', arguments: { service: 'api' } }]);
    expect(toolCalls).toEqual([
      { name: 'deploy', arguments: { service: 'api', environment: 'production' } },
    ]);
  });

  it('a protection that trusts another decide function decides again', async () => {
    await call(adapter, 'distrusting', 'list_services', {});
    expect(guardCalls).toHaveLength(1);
    expect(toolCalls).toHaveLength(1);
  });

  it('a protection that trusts no guard decides again', async () => {
    await call(adapter, 'unset', 'list_services', {});
    expect(guardCalls).toHaveLength(1);
    expect(toolCalls).toHaveLength(1);
  });
});

it('the allowance is invisible to tool handlers: not enumerable, not serialised, not spread', async () => {
  const seen: unknown[] = [];
  const server = new McpServer({ name: 'peek', version: '1.0.0' });
  trusting(server).registerTool('list_services', {}, (extra) => {
    seen.push(
      Object.getOwnPropertySymbols({ ...extra.authInfo }),
      JSON.parse(JSON.stringify(extra.authInfo)),
    );
    return ok('x');
  });
  const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
  const guard = nodeHttpAuth({ verifier, decide: guardDecide });
  const started = await listen(
    createServer(async (req, res) => {
      if ((await guard(req, res)) === undefined) return;
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, (req as { body?: unknown }).body);
    }),
  );
  try {
    urls.peek = started.url;
    const answer = await call('peek', 'trusting', 'list_services', {});
    expect(answer.result?.content[0].text).toBe('x');
    expect(toolCalls).toEqual([]);
    expect(seen[0]).toEqual([]);
    expect(Object.keys(seen[1] as object).sort()).toEqual(
      ['clientId', 'expiresAt', 'extra', 'resource', 'scopes', 'token'].sort(),
    );
  } finally {
    await started.close();
  }
});
