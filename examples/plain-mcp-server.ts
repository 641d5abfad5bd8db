// A plain MCP server that knows nothing of OAuth: the kind `mcp-elevate gateway` protects.
// Stateless Streamable HTTP with JSON answers; run it with `PORT=4100 npx node examples/plain-mcp-server.ts`
// (the project's Node 24) and put the gateway in front: `npx mcp-elevate gateway --upstream http://localhost:4100/mcp`.
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const port = Number(process.env.PORT ?? 4100);

function mcpServer(): McpServer {
  const server = new McpServer({ name: 'plain-deploy-tools', version: '1.0.0' });
  server.registerTool(
    'list_services',
    {
      description: 'List deployable services',
      annotations: { readOnlyHint: true },
    },
    async () => ({ content: [{ type: 'text', text: 'api, web, worker' }] }),
  );
  server.registerTool(
    'deploy_service',
    {
      description: 'Deploy a service version to an environment',
      inputSchema: {
        service: z.string(),
        environment: z.enum(['development', 'staging', 'production']),
        version: z.string(),
      },
      annotations: { destructiveHint: true },
    },
    async ({ service, environment, version }) => ({
      content: [{ type: 'text', text: `deployed ${service}@${version} to ${environment}` }],
    }),
  );
  return server;
}

createServer(async (req, res) => {
  if (req.url === '/healthz') return void res.end('ok');
  if (!req.url?.startsWith('/mcp')) return void res.writeHead(404).end();
  // One server per request: nothing is shared between callers.
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => void server.close());
  await server.connect(transport);
  await transport.handleRequest(req, res);
}).listen(port, () => console.log(`plain MCP server on http://localhost:${port}/mcp`));
