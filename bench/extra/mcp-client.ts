/** Streamable HTTP, the client side, with plain fetch: enough for benchmarks to open sessions and call tools. */

export const PROTOCOL_VERSION = '2025-06-18';

/** Headers of every MCP request; `sessionId` for a stateful server. */
export function mcpHeaders(token: string, sessionId?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION } : {}),
  };
}

/** Opens an MCP session (initialize, then notifications/initialized) and returns its id. */
export async function openSession(url: string, headers: Record<string, string>): Promise<string> {
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'bench', version: '1.0.0' },
      },
    }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.text();
  if (init.status !== 200 || !session)
    throw new Error(`initialize answered ${init.status} without a session`);
  const done = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.text();
  if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}`);
  return session;
}

/** Calls a tool; rejects on an HTTP error, a JSON-RPC error or a tool result marked `isError`. */
export async function callTool(
  url: string,
  headers: Record<string, string>,
  id: number | string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: args },
    }),
  });
  const text = await res.text();
  if (res.status !== 200)
    throw new Error(`tools/call ${name}: HTTP ${res.status} ${text.slice(0, 120)}`);
  const message = JSON.parse(text) as {
    result?: { isError?: boolean };
    error?: { code: number; message: string };
  };
  if (message.error)
    throw new Error(`tools/call ${name}: JSON-RPC ${message.error.code} ${message.error.message}`);
  if (message.result?.isError)
    throw new Error(`tools/call ${name}: tool error ${text.slice(0, 120)}`);
  return message.result;
}
