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
 * - `X-Forwarded-For` gets the caller's address appended (RFC 7239 §5.2's chain, as reverse
 *   proxies write it): an upstream that logs callers sees the address the gateway saw, after
 *   whatever the caller claimed;
 * - from the upstream, `WWW-Authenticate` stops here: the client authenticates to the gateway,
 *   whose challenges alone name where (an upstream's would send it elsewhere);
 * - an upstream's `Location` / `Content-Location` naming the upstream itself (a redirect from
 *   `/mcp` to `/mcp/`, common in Python servers, names the Host it was sent) is rewritten onto
 *   the route's public path, and dropped when it names a part of the upstream the route does not
 *   serve: the client cannot reach the upstream's address, and must not learn it
 *   ({@link publicLocation});
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
  peer?: string,
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
  if (peer !== undefined) {
    const claimed = out['x-forwarded-for'];
    out['x-forwarded-for'] = claimed === undefined ? peer : `${String(claimed)}, ${peer}`;
  }
  for (const name in extra) out[name] = extra[name];
  return out;
}

/** The path prefix `path` stands for: itself without a trailing slash (`''` for the root). */
const prefixOf = (path: string) => (path.endsWith('/') ? path.slice(0, -1) : path);

/**
 * Where an upstream's `Location` (or `Content-Location`) sends the client, seen from the
 * gateway. Resolved against the upstream URL; then:
 * - on another origin (an identity provider's page, a CDN): unchanged;
 * - on the upstream's origin, at or under its path: the same place under the route's public
 *   path, as a path-absolute reference (RFC 9110 §10.2.2 allows one; the client resolves it
 *   against the URL it addressed, the gateway's);
 * - on the upstream's origin elsewhere, or not a URL: `undefined` (drop the header), since the
 *   route serves nothing there.
 * @param value the header's value as the upstream sent it.
 * @param upstream the route's upstream URL, e.g. `http://10.0.0.7:8000/mcp`.
 * @param path the route's public path, e.g. `/mcp`.
 */
export function publicLocation(value: string, upstream: string, path: string): string | undefined {
  let target: URL;
  let base: URL;
  try {
    base = new URL(upstream);
    target = new URL(value, base);
  } catch {
    return undefined;
  }
  if (target.origin !== base.origin) return value;
  const from = prefixOf(base.pathname);
  if (target.pathname !== from && !target.pathname.startsWith(`${from}/`)) return undefined;
  const rest = target.pathname.slice(from.length);
  return `${prefixOf(path)}${rest}${target.search}${target.hash}` || '/';
}

/**
 * Rewrites `Location` and `Content-Location` of an upstream response in place (see
 * {@link publicLocation}); any other header is left alone.
 */
export function publicLocations(
  headers: Record<string, string | string[] | undefined>,
  upstream: string,
  path: string,
): void {
  for (const name of ['location', 'content-location']) {
    const value = headers[name];
    if (value === undefined) continue;
    const mapped = publicLocation(Array.isArray(value) ? value[0]! : value, upstream, path);
    if (mapped === undefined) delete headers[name];
    else headers[name] = mapped;
  }
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
