import type { IncomingHttpHeaders } from 'node:http';

/** JSON-RPC error of MCP 2026-07-28 (`HeaderMismatch`) for standard headers that contradict the body. */
export const HEADER_MISMATCH = -32020;

/** Methods whose target is named by `Mcp-Name`, and the parameter holding it. */
const NAME_PARAM: Record<string, string> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** One header's value; a repeated header never matches (a NUL no method or name holds). */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : '\u0000') : value;
}

/**
 * Checks the `Mcp-Method` / `Mcp-Name` request headers (MCP 2026-07-28, "Standard headers")
 * against the parsed JSON-RPC body. Intermediaries route and meter on these headers while the
 * guard decides on the body, so the two must agree. Rules:
 * - an absent header is accepted (older protocol revisions do not send them);
 * - a present header must equal the body's `method`, and `Mcp-Name` the `params.name`
 *   (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`) it mirrors;
 * - a repeated header, a batch or a body that is no JSON-RPC object never matches a present
 *   header (the headers name one request).
 * @param body the parsed request body, whatever its shape.
 * @returns a description of the mismatch safe to send to the client, or `undefined` when the
 *   headers agree with the body (or are absent).
 */
export function headerMismatch(headers: IncomingHttpHeaders, body: unknown): string | undefined {
  const method = single(headers['mcp-method']);
  const name = single(headers['mcp-name']);
  if (method === undefined && name === undefined) return undefined;
  const message =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as { method?: unknown; params?: unknown })
      : {};
  if (method !== undefined && method !== message.method)
    return 'Mcp-Method header does not match the request body';
  if (name === undefined) return undefined;
  const param = typeof message.method === 'string' ? NAME_PARAM[message.method] : undefined;
  const params =
    typeof message.params === 'object' && message.params !== null
      ? (message.params as Record<string, unknown>)
      : {};
  if (param === undefined || params[param] !== name)
    return 'Mcp-Name header does not match the request body';
  return undefined;
}

/** The JSON-RPC id of a parsed body, for an error answering it; `null` when it has none. */
export function requestId(body: unknown): string | number | null {
  const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
