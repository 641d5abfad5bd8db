import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which headers cross the gateway, in each direction. Rules:
 * - hop-by-hop headers (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive,
 *   Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) stop here;
 * - the caller's credentials (Authorization, DPoP) never go upstream: MCP forbids token
 *   passthrough, and the upstream must not be able to replay a token meant for the gateway; nor
 *   do its cookies (`Cookie`), which belong to the gateway's site, not to any one upstream;
 * - a principal header sent by the caller is dropped, so only the gateway can assert it;
 * - a header whose name holds an underscore is dropped: CGI-style servers (WSGI, PHP, …) read
 *   `Mcp_Session_Id` as `Mcp-Session-Id`, which would pass a header the gateway checks or drops
 *   under another name;
 * - Host and Content-Length are set by the HTTP client for the upstream request; Accept-Encoding
 *   asks for identity so that `tools/list` answers can be read and rewritten; Expect is the
 *   gateway's business with its client, not the upstream's;
 * - forwarding headers are the gateway's to write: `X-Forwarded-For` gets the caller's address
 *   appended (the chain as reverse proxies write it: the last entry is the one the gateway saw,
 *   those before it are the caller's claim); `X-Forwarded-Proto` and `X-Forwarded-Host` say the
 *   route's public URL; what a caller sent as `Forwarded`, `X-Forwarded-Host`, `-Proto`,
 *   `-Port`, `X-Real-IP` or `True-Client-IP` is dropped, so an upstream building URLs from them
 *   builds the public ones;
 * - everything else (Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept, Content-Type,
 *   Mcp-Method, Mcp-Name, …) goes upstream unchanged;
 * - from the upstream, only what an MCP client reads reaches the client ({@link
 *   clientResponseHeaders}): content and caching headers, `Retry-After`, `Allow`, every `Mcp-*`
 *   header, and `Location` / `Content-Location` mapped onto the route's public path
 *   (`publicLocation`). The rest stops here, since it can carry the upstream's address or
 *   settings of its own site (`Link`, `Refresh`, `Set-Cookie`, `Access-Control-*`, `Alt-Svc`,
 *   `Server`, `Via`, …), and `WWW-Authenticate` would send the client to authenticate elsewhere.
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
  'cookie',
  'host',
  'content-length',
  'accept-encoding',
  'expect',
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
  'true-client-ip',
]);

/** What the gateway itself tells the upstream about a request. */
export interface ForwardedFacts {
  /** The route's public URL (its resource): `X-Forwarded-Proto` and `X-Forwarded-Host`. */
  publicUrl: URL;
  /** The caller's address as the gateway's socket sees it, appended to `X-Forwarded-For`. */
  peer?: string;
}

/**
 * Headers for the upstream request.
 * @param dropped further (lower-case) names to drop, e.g. the principal header's name.
 * @param extra headers of the route's configuration and the signed principal; they win.
 * @param forwarded what the forwarding headers say (see the rules above).
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  dropped: ReadonlySet<string>,
  extra: Record<string, string>,
  forwarded: ForwardedFacts,
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
  const { peer, publicUrl } = forwarded;
  if (peer !== undefined) {
    const claimed = String(out['x-forwarded-for'] ?? '').trim();
    out['x-forwarded-for'] = claimed === '' ? peer : `${claimed}, ${peer}`;
  }
  out['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1);
  out['x-forwarded-host'] = publicUrl.host;
  for (const name in extra) out[name] = extra[name];
  return out;
}

/** Response headers an MCP client reads, besides every `Mcp-*` one (see the rules above). */
const TO_CLIENT = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'location',
  'cache-control',
  'expires',
  'pragma',
  'etag',
  'last-modified',
  'vary',
  'age',
  'date',
  'retry-after',
  'allow',
  'x-accel-buffering',
]);

/**
 * Headers of the upstream's response sent on to the client: those of the rules above, with
 * `dropLength` (a rewritten body) without Content-Length. `Location` and `Content-Location`
 * arrive here already mapped (`sendUpstream`).
 */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  dropLength = false,
): Record<string, string | string[]> {
  // A header the upstream's Connection names is hop-by-hop, whatever its name.
  const named = connectionTokens(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || named.has(name)) continue;
    if (!(TO_CLIENT.has(name) || name.startsWith('mcp-'))) continue;
    if (dropLength && name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}
