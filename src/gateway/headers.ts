import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which headers cross the gateway, in each direction. Rules:
 * - hop-by-hop headers (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive,
 *   Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) stop here;
 * - the caller's credentials (Authorization, DPoP) never go upstream: MCP forbids token
 *   passthrough, and the upstream must not be able to replay a token meant for the gateway;
 * - a principal header sent by the caller is dropped, so only the gateway can assert it;
 * - a header whose name holds an underscore is dropped: CGI-style servers (WSGI, PHP, …) read
 *   `Mcp_Session_Id` as `Mcp-Session-Id`, which would pass a header the gateway checks or drops
 *   under another name;
 * - Host and Content-Length are set by the HTTP client for the upstream request; Accept-Encoding
 *   asks for identity so that `tools/list` answers can be read and rewritten; Expect is the
 *   gateway's business with its client, not the upstream's;
 * - from the upstream, `WWW-Authenticate` stops here: the client authenticates to the gateway,
 *   whose challenges alone name where (an upstream's would send it elsewhere);
 * - everything else (Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept, Content-Type,
 *   Mcp-Method, Mcp-Name, …) passes unchanged.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NO_TOKENS: ReadonlySet<string> = new Set();

/** The header names a Connection header lists (`keep-alive` and `close` name none). */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS;
  const joined = Array.isArray(value) ? value.join(',') : value;
  // The common values, without splitting.
  const lower = joined.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return NO_TOKENS;
  return new Set(
    lower
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean),
  );
}

/** Request headers never sent upstream besides the hop-by-hop ones (see the rules above). */
const NOT_FORWARDED = new Set([
  'authorization',
  'dpop',
  'host',
  'content-length',
  'accept-encoding',
  'expect',
]);

/**
 * Headers for the upstream request.
 * @param dropped further (lower-case) names to drop, e.g. the principal header's name.
 * @param extra headers of the route's configuration and the signed principal; they win.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  dropped: ReadonlySet<string>,
  extra: Record<string, string>,
): Record<string, string | string[]> {
  const named = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (
      value === undefined ||
      HOP_BY_HOP.has(name) ||
      NOT_FORWARDED.has(name) ||
      named.has(name) ||
      dropped.has(name) ||
      name.includes('_')
    )
      continue;
    out[name] = value;
  }
  out['accept-encoding'] = 'identity';
  for (const name in extra) out[name] = extra[name];
  return out;
}

/**
 * Headers of the upstream's response sent on to the client: hop-by-hop ones removed, and with
 * `dropLength` (a rewritten body) Content-Length too.
 */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  dropLength = false,
): Record<string, string | string[]> {
  const named = connectionTokens(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === 'www-authenticate' || (dropLength && name === 'content-length')) continue;
    out[name] = value;
  }
  return out;
}

/** JSON-RPC error of MCP 2026-07-28 for standard headers that contradict the body. */
export const HEADER_MISMATCH = -32020;

/** Methods whose target is named by `Mcp-Name`, and the parameter holding it. */
const NAME_PARAM: Record<string, string> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : '\u0000') : value;
}

/**
 * Checks the `Mcp-Method` / `Mcp-Name` request headers (MCP 2026-07-28) against the JSON-RPC
 * body. Intermediaries route on these headers while the gateway decides on the body, so the two
 * must agree: a header that is present and differs (or is repeated) is refused. Absent headers
 * are accepted, as older protocol revisions do not send them.
 * @returns a client-safe description of the mismatch, or undefined when they agree.
 */
export function headerMismatch(
  headers: IncomingHttpHeaders,
  message: { method?: unknown; params?: unknown },
): string | undefined {
  const method = single(headers['mcp-method']);
  if (method !== undefined && method !== message.method)
    return 'Mcp-Method header does not match the request body';
  const name = single(headers['mcp-name']);
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
