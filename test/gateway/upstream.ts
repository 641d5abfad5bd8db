import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** What the upstream saw of one request. */
export interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  body?: unknown;
}

/** A plain, unprotected MCP server written with the MCP SDK, as the gateway's upstream. */
export interface Upstream {
  /** Its MCP endpoint, e.g. `http://127.0.0.1:1234/mcp`. */
  url: string;
  port: number;
  /** Every request it received. */
  seen: Seen[];
  /** Resolves `get_progress` calls waiting for it. */
  release(): void;
  /** Progress notifications `get_progress` has sent (in the current wait). */
  progressSent: number;
  close(): Promise<void>;
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

function tools(server: McpServer, state: { waiting: Array<() => void>; upstream: Upstream }) {
  server.registerTool(
    'list_services',
    { description: 'Lists services', annotations: { readOnlyHint: true } },
    () => text('billing, search'),
  );
  server.registerTool(
    'get_progress',
    {
      description: 'Reports progress three times, then waits for the test to release it',
      inputSchema: { steps: z.number().int().default(3) },
    },
    async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps },
          });
          state.upstream.progressSent += 1;
        }
      }
      await new Promise<void>((resolve) => state.waiting.push(resolve));
      return text('done');
    },
  );
  server.registerTool(
    'get_blob',
    {
      description: 'Returns a text of the size asked for',
      inputSchema: { bytes: z.number().int().min(0) },
    },
    ({ bytes }) => text('x'.repeat(bytes)),
  );
  server.registerTool(
    'get_slow',
    {
      description: 'Answers after a delay',
      inputSchema: { ms: z.number().int().min(0) },
    },
    async ({ ms }) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return text('slow answer');
    },
  );
  server.registerTool('get_failure', { description: 'Always fails' }, () => ({
    isError: true,
    content: [{ type: 'text' as const, text: 'it broke' }],
  }));
  server.registerTool(
    'deploy_service',
    {
      description: 'Deploys',
      inputSchema: { service: z.string(), environment: z.string(), version: z.string() },
      annotations: { destructiveHint: true },
    },
    ({ service, environment, version }) => text(`deployed ${service} ${version} to ${environment}`),
  );
  server.registerTool(
    'rollback_deployment',
    { description: 'Rolls back', inputSchema: { service: z.string() } },
    ({ service }) => text(`rolled back ${service}`),
  );
  server.registerTool('format_disk', { description: 'Not in any policy' }, () => text('formatted'));
}

/**
 * Starts the upstream. `stateful`: sessions (one server and transport each), SSE answers;
 * otherwise stateless with JSON answers (a new server per request, as the SDK's stateless example).
 */
export async function startUpstream(options: { stateful: boolean }): Promise<Upstream> {
  const state = { waiting: [] as Array<() => void>, upstream: undefined as unknown as Upstream };
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const make = () => {
    const server = new McpServer({ name: 'plain-upstream', version: '1.0.0' });
    tools(server, state);
    return server;
  };
  const seen: Seen[] = [];

  const http: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw === '' ? undefined : JSON.parse(raw);
    seen.push({ method: req.method ?? '', headers: req.headers, body });
    try {
      if (!options.stateful) {
        const server = make();
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on('close', () => void server.close());
        await server.connect(transport);
        return await transport.handleRequest(req, res, body);
      }
      const id = req.headers['mcp-session-id'];
      const existing = typeof id === 'string' ? sessions.get(id) : undefined;
      if (existing) return await existing.handleRequest(req, res, body);
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: -32001, message: 'Session not found' },
          }),
        );
        return;
      }
      const server = make();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
        onsessionclosed: (sid) => void sessions.delete(sid),
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const upstream: Upstream = {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    seen,
    progressSent: 0,
    release() {
      for (const resolve of state.waiting.splice(0)) resolve();
    },
    async close() {
      upstream.release();
      for (const transport of sessions.values()) await transport.close().catch(() => undefined);
      const closed = once(http, 'close');
      http.close();
      http.closeAllConnections();
      await closed;
    },
  };
  state.upstream = upstream;
  return upstream;
}
