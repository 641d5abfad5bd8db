/**
 * Resource identifiers (RFC 8707 `resource`, RFC 9728 `resource`, a token's `aud`) compared the way
 * RFC 3986 §6.2.2 says equivalent URIs compare, so that every spelling a client may send reaches the
 * same catalogue entry. One function serves the catalogue, the authorization server and the
 * verifier. Rules, in order:
 * - an absolute `http` or `https` URI without fragment and without user information, else no
 *   identifier at all (RFC 8707 §2: "MUST NOT include a fragment component");
 * - case: scheme and host lower-cased (§6.2.2.1), percent-encoding hex digits upper-cased;
 * - percent-encoding: octets of unreserved characters decoded (§6.2.2.2), `%7E` is `~`;
 * - path segments: `.` and `..` removed (§6.2.2.3);
 * - scheme-based (§6.2.3): the default port dropped, an empty path is `/`;
 * - a single trailing `/` of a non-root path is insignificant (`/mcp/` is `/mcp`), as the MCP
 *   authorization spec's canonical server URI advises clients to omit it and SDK clients differ.
 * @module
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes percent-encoded unreserved characters and upper-cases the hex of the others. */
function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * The normal form of a resource identifier, used as the comparison key.
 *
 * @param value A resource identifier as a client or a catalogue spells it.
 * @returns The normal form (e.g. `HTTP://LOCALHOST:80/a/%7Eb/` → `http://localhost/a/~b`), or
 *   `undefined` when `value` is not an absolute http(s) URI without fragment and user information.
 */
export function normalizeResourceUri(value: string): string | undefined {
  if (typeof value !== 'string' || value.includes('#')) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || !url.hostname) return undefined;
  let path = normalizePercentEncoding(url.pathname);
  // Only a single trailing slash goes, so normalising a normal form changes nothing.
  if (path.length > 1 && path.endsWith('/') && !path.endsWith('//')) path = path.slice(0, -1);
  return `${url.protocol}//${url.host}${path}${normalizePercentEncoding(url.search)}`;
}

/**
 * True when two resource identifiers name the same resource under {@link normalizeResourceUri}.
 * Two invalid identifiers are never the same resource.
 */
export function sameResource(a: string, b: string): boolean {
  const na = normalizeResourceUri(a);
  return na !== undefined && na === normalizeResourceUri(b);
}

/**
 * A set of known resource identifiers that answers, for any spelling, the known one it names.
 * Tokens carry the known spelling (the catalogue's), whatever the client sent.
 */
export class ResourceIndex {
  readonly #byKey = new Map<string, string>();

  /**
   * @param known The identifiers as configured (e.g. the keys of `scopes.json`'s `resources`).
   * @throws {TypeError} When one is not a valid resource identifier, or two name the same
   *   resource (a configuration mistake, reported before the server starts).
   */
  constructor(known: Iterable<string>) {
    for (const uri of known) {
      const key = normalizeResourceUri(uri);
      if (key === undefined)
        throw new TypeError(`not a resource identifier: ${JSON.stringify(uri)}`);
      const earlier = this.#byKey.get(key);
      if (earlier !== undefined && earlier !== uri) {
        throw new TypeError(
          `${JSON.stringify(uri)} and ${JSON.stringify(earlier)} name the same resource`,
        );
      }
      this.#byKey.set(key, uri);
    }
  }

  /** The known spelling of the resource `value` names, or `undefined` for an unknown resource. */
  resolve(value: string): string | undefined {
    const key = normalizeResourceUri(value);
    return key === undefined ? undefined : this.#byKey.get(key);
  }
}
