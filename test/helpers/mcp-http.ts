import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** MCP Streamable HTTP protocol version the raw requests of the tests announce. */
export const TEST_PROTOCOL_VERSION = '2025-06-18';

/**
 * Sends one JSON-RPC `tools/call` (id 1) as a Streamable HTTP POST, without an MCP client: for
 * tests that need the raw answer (status, JSON-RPC error code) of a single request.
 * @param headers extra request headers, e.g. `authorization`.
 */
export function postToolCall(
  url: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': TEST_PROTOCOL_VERSION,
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name, arguments: args },
    }),
  });
}

/**
 * Answers one request with `server` in the MCP SDK's stateless pattern: a transport of its own
 * (no session, JSON answers), the server closed with the response. `body` is the parsed request.
 */
export async function serveStateless(
  server: McpServer,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => void server.close());
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
