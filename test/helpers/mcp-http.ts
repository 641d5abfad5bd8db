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
