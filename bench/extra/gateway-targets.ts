/**
 * Benchmark targets for bench/gateway.ts, one per process, chosen by `BENCH_TARGET`:
 * - `upstream`: a plain MCP server (MCP SDK, stateless, JSON answers) with `list_services`, and
 *   `get_blob` whose answer of `bytes` bytes it writes as a stream, so that a 200 MB answer costs
 *   the upstream nothing to hold;
 * - `gateway`: `startGateway` in front of `BENCH_UPSTREAM` for resource `BENCH_RESOURCE` of the
 *   authorization server `BENCH_ISSUER` (rate limit on, with a bucket large enough never to refuse);
 * - `proxy`: a plain reverse proxy on undici (request and answer streamed, no checks), the floor
 *   of any proxy.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Agent, request } from 'undici';
import { startGateway } from '../../src/gateway/index.ts';
import { serveChild } from './ipc.ts';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const http = createServer(handler);
  http.keepAliveTimeout = 60_000;
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  return {
    url,
    close: async () => {
      http.close();
      http.closeAllConnections();
    },
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function streamBlob(res: ServerResponse, id: unknown, bytes: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(
    `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"`,
  );
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!res.write(sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent)))
      await once(res, 'drain');
  }
  res.end('"}]}}');
}

const upstream = () =>
  listen(async (req, res) => {
    const body = (await readBody(req)) as {
      id?: unknown;
      method?: string;
      params?: { name?: string; arguments?: { bytes?: number } };
    };
    if (body.method === 'tools/call' && body.params?.name === 'get_blob')
      return streamBlob(res, body.id, body.params.arguments?.bytes ?? 0);
    const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
    server.registerTool('list_services', { annotations: { readOnlyHint: true } }, () => ({
      content: [{ type: 'text', text: 'api-gateway, billing, search' }],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });

function plainProxy(target: string) {
  const agent = new Agent({ keepAliveTimeout: 30_000, bodyTimeout: 0 });
  return listen(async (req, res) => {
    try {
      const { host: _host, connection: _connection, ...headers } = req.headers;
      const answer = await request(target, {
        method: req.method as 'POST',
        headers,
        body: req,
        dispatcher: agent,
      });
      const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...back } = answer.headers;
      res.writeHead(answer.statusCode, back);
      for await (const chunk of answer.body) if (!res.write(chunk)) await once(res, 'drain');
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    }
  });
}

await serveChild(async () => {
  const env = process.env;
  switch (env.BENCH_TARGET) {
    case 'upstream': {
      const server = await upstream();
      return { info: { url: server.url }, close: server.close };
    }
    case 'proxy': {
      const server = await plainProxy(env.BENCH_UPSTREAM!);
      return { info: { url: server.url }, close: server.close };
    }
    case 'gateway': {
      const gateway = await startGateway({
        issuer: env.BENCH_ISSUER!,
        port: 0,
        host: '127.0.0.1',
        routes: [
          {
            path: '/mcp',
            upstream: env.BENCH_UPSTREAM!,
            resource: env.BENCH_RESOURCE!,
            headers: {},
            timeoutMs: 120_000,
            bodyLimitBytes: 1024 * 1024,
            rateLimit: { capacity: 1e9, refillPerSecond: 1e9 },
            breaker: {},
          },
        ],
      });
      return { info: { url: `${gateway.url}/mcp` }, close: gateway.close };
    }
    default:
      throw new TypeError(
        `BENCH_TARGET must be upstream, gateway or proxy, not ${JSON.stringify(env.BENCH_TARGET)}`,
      );
  }
});
