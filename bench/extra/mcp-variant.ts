/**
 * Benchmark target for bench/verifier-http.ts: one MCP server, Streamable HTTP on Express 5 with
 * JSON responses, with the example's `list_services` tool, served per `BENCH_MCP_MODE` either
 * stateless (a new McpServer and transport per request, the MCP SDK's stateless pattern) or
 * stateful (sessions opened by `initialize`, the pattern of the example server). Only the
 * authentication in front of it differs, by `BENCH_VARIANT`:
 * - `none`: no authentication (the floor);
 * - `ours`: `createMcpProtection(...).expressGuard` — bearer token (verified once, then cached),
 *   and the tool call decided by the policy before the MCP server runs;
 * - `sdk`: the MCP SDK's `requireBearerAuth` with a `verifyAccessToken` built on `jose.jwtVerify`
 *   and a remote JWKS (`createRemoteJWKSet`: keys cached, the signature checked on every request);
 * - `ours-tools`: `ours` plus `protectMcpServer` around the tool (decision again, rate limit off,
 *   breaker, timeout, metrics, span): the whole of the verifier, as the example server runs it.
 * `BENCH_ISSUER` is the authorization server; tokens are for `BENCH_RESOURCE`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import express, { type Request, type Response } from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ExampleStore } from '../../src/example/index.ts';
import { createMcpProtection, type McpProtection } from '../../src/verifier/index.ts';
import { serveChild } from './ipc.ts';
import { MODES, VARIANTS, type Mode, type Variant } from './variants.ts';

const store = new ExampleStore();
const listServices = (): CallToolResult => ({
  content: [{ type: 'text', text: JSON.stringify({ services: store.listServices() }, null, 2) }],
});
const TOOL = {
  title: 'List services',
  description:
    'Lists every service with its owning team and the version running in each environment.',
  annotations: { readOnlyHint: true, openWorldHint: false },
};

/** The same MCP server for every variant; `protection` only for `ours-tools`. */
function mcpServer(protection?: McpProtection): McpServer {
  const server = new McpServer({ name: 'bench-mcp', version: '1.0.0' });
  if (protection)
    protection.protectMcpServer(server).registerTool('list_services', TOOL, listServices);
  else server.registerTool('list_services', TOOL, listServices);
  return server;
}

/** The SDK's stateless pattern: a server and transport per request, closed with the response. */
const stateless = (protection?: McpProtection) => async (req: Request, res: Response) => {
  const server = mcpServer(protection);
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
};

/** The SDK's stateful pattern: `initialize` opens a session, later requests name it. At most 100 sessions. */
function stateful(protection?: McpProtection) {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  return async (req: Request, res: Response) => {
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? sessions.get(id) : undefined;
    if (known) return known.handleRequest(req, res, req.body);
    if (id !== undefined || !isInitializeRequest(req.body) || sessions.size >= 100) {
      res
        .status(400)
        .json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no valid session' } });
      return;
    }
    const server = mcpServer(protection);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: true,
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
}

/** `verifyAccessToken` for requireBearerAuth, the way an SDK user would write it with jose. */
async function joseVerifier(issuer: string, resource: string) {
  const metadata = (await (
    await fetch(`${issuer}/.well-known/oauth-authorization-server`)
  ).json()) as { jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer,
          audience: resource,
          typ: 'at+jwt',
          algorithms: ['ES256'],
        });
        return {
          token,
          clientId: String(payload.client_id),
          scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
          expiresAt: payload.exp,
          resource: new URL(resource),
          extra: { sub: payload.sub, roles: payload.roles },
        };
      } catch {
        throw new InvalidTokenError('invalid access token');
      }
    },
  };
}

await serveChild(async () => {
  const variant = process.env.BENCH_VARIANT as Variant;
  const mode = process.env.BENCH_MCP_MODE as Mode;
  const issuer = process.env.BENCH_ISSUER;
  const resource = process.env.BENCH_RESOURCE;
  if (!VARIANTS.includes(variant) || !MODES.includes(mode) || !issuer || !resource) {
    throw new TypeError(
      'BENCH_VARIANT, BENCH_MCP_MODE, BENCH_ISSUER and BENCH_RESOURCE are required',
    );
  }
  const handler = mode === 'stateless' ? stateless : stateful;
  const path = new URL(resource).pathname;
  const app = express();
  let protection: McpProtection | undefined;
  if (variant === 'none') {
    app.post(path, express.json(), handler());
  } else if (variant === 'sdk') {
    const verifier = await joseVerifier(issuer, resource);
    app.post(path, requireBearerAuth({ verifier }), express.json(), handler());
  } else {
    protection = await createMcpProtection({
      issuer,
      resource,
      ...(variant === 'ours-tools' ? { tools: { rateLimit: false } } : {}),
    });
    app.post(
      path,
      express.json(),
      protection.expressGuard,
      handler(variant === 'ours-tools' ? protection : undefined),
    );
  }
  const http: Server = app.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    info: { url: `http://127.0.0.1:${port}${path}` },
    async close() {
      http.close();
      http.closeAllConnections();
      await protection?.close();
    },
  };
});
