import ipaddr from 'ipaddr.js';

/** The path prefix `path` stands for: itself without a trailing slash (`''` for the root). */
const prefixOf = (path: string) => (path.endsWith('/') ? path.slice(0, -1) : path);

/** A host name as compared here: lower case (as URL leaves it), without a final dot. */
const hostOf = (url: URL) =>
  url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname;

// RFC 6761: `localhost` and every name under it are loopback, whatever a resolver says.
const LOCALHOST = /(^|\.)localhost$/;

/** Whether `host` (as `URL.hostname` gives it) names this machine, in any spelling ipaddr.js reads. */
function isLoopback(host: string): boolean {
  if (LOCALHOST.test(host)) return true;
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  // process() turns v4-mapped v6 (`::ffff:127.0.0.1`) into the v4 address it carries.
  return ipaddr.isValid(bare) && ipaddr.process(bare).range() === 'loopback';
}

/** Where a route is served: its public path and the origin of its public URL (resource). */
export interface PublicRoute {
  /** The route's path, e.g. `/mcp`. */
  path: string;
  /** The origin clients address, e.g. `https://tools.example.com`. */
  origin: string;
}

/**
 * Where an upstream's `Location` (or `Content-Location`) sends the client, seen from the
 * gateway. Resolved against the upstream URL; then:
 * - on the gateway's own public origin (an upstream that builds URLs from `X-Forwarded-Host`
 *   and `-Proto`), or on another host (an identity provider's page, a CDN): unchanged;
 * - on the upstream's host, under any scheme (`https://` when the upstream honours
 *   `X-Forwarded-Proto`), and the same port as the upstream URL names, at or under its path: the
 *   same place under the route's public path, as a path-absolute reference (RFC 9110 §10.2.2;
 *   the client resolves it against the gateway's URL it addressed). The upstream's host is its
 *   name as configured, or any loopback name when that is one (`localhost`, `127.0.0.1`, `[::1]`);
 * - on the upstream's host elsewhere (another path or port), or not a URL: `undefined` (drop the
 *   header), since the route serves nothing there.
 * A name that resolves to the upstream's address but is spelt otherwise cannot be recognised
 * without DNS, and passes as another host.
 * @param value the header's value as the upstream sent it.
 * @param upstream the route's upstream URL, e.g. `http://10.0.0.7:8000/mcp`.
 * @param route the route's public path and origin.
 */
export function publicLocation(
  value: string,
  upstream: string,
  route: PublicRoute,
): string | undefined {
  let target: URL;
  let base: URL;
  try {
    base = new URL(upstream);
    target = new URL(value, base);
  } catch {
    return undefined;
  }
  if (target.origin === route.origin) return value;
  const [host, upstreamHost] = [hostOf(target), hostOf(base)];
  if (host !== upstreamHost && !(isLoopback(host) && isLoopback(upstreamHost))) return value;
  if (target.port !== base.port) return undefined;
  const from = prefixOf(base.pathname);
  if (target.pathname !== from && !target.pathname.startsWith(`${from}/`)) return undefined;
  const rest = target.pathname.slice(from.length);
  const mapped = `${prefixOf(route.path)}${rest}${target.search}${target.hash}`;
  // One leading slash: `//host/…` would name another host (a route at `/` and a path `//x`).
  return mapped.startsWith('/') ? mapped.replace(/^\/+/, '/') : `/${mapped}`;
}

/**
 * Rewrites `Location` and `Content-Location` of an upstream response in place (see
 * {@link publicLocation}); any other header is left alone.
 */
export function publicLocations(
  headers: Record<string, string | string[] | undefined>,
  upstream: string,
  route: PublicRoute,
): void {
  for (const name of ['location', 'content-location']) {
    const value = headers[name];
    if (value === undefined) continue;
    const mapped = publicLocation(Array.isArray(value) ? value[0]! : value, upstream, route);
    if (mapped === undefined) delete headers[name];
    else headers[name] = mapped;
  }
}
