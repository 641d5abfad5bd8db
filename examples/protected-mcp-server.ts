// A minimal MCP server protected by mcp-elevate: run it next to the authorization server with
//   ISSUER=http://localhost:3000 node examples/protected-mcp-server.ts
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createMcpProtection } from 'mcp-elevate/verifier';

const issuer = process.env.ISSUER ?? 'http://localhost:3000';
const port = Number(process.env.PORT ?? 4000);
// Must be a `resources` entry of the authorization server's scopes.json.
const resource = process.env.RESOURCE ?? `http://localhost:${port}/mcp`;

// Token verification (JWKS, cache, DPoP), the signed policy bundle, the revocation feed,
// step-up challenges, resilience, metrics and audit, wired together.
const protection = await createMcpProtection({ issuer, resource });

function mcpServer(): McpServer {
  const server = new McpServer({ name: 'deploy-tools', version: '1.0.0' });
  const tools = protection.protectMcpServer(server);
  tools.registerTool(
    'list_services',
    {
      description: 'List deployable services',
      annotations: { readOnlyHint: true },
    },
    async () => ({ content: [{ type: 'text', text: 'api, web, worker' }] }),
  );
  tools.registerTool(
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

const http = createServer(async (req, res) => {
  // Serves the Protected Resource Metadata, answers 401/403 challenges and JSON-RPC denials;
  // resolves the verified token when the request may go on.
  const auth = await protection.guard(req, res);
  if (!auth) return;
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => void server.close());
  await server.connect(transport);
  await transport.handleRequest(req, res, (req as { body?: unknown }).body);
});
http.listen(port, () => console.log(`MCP server for ${resource} on port ${port}`));
