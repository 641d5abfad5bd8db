/** JSON-RPC error of MCP 2026-07-28 (`HeaderMismatch`) for standard headers that contradict the body. */
export const HEADER_MISMATCH = -32020;

/** Methods whose target is named by `Mcp-Name`, and the parameter holding it. */
const NAME_PARAM: ReadonlyMap<string, string> = new Map([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
]);

/** MCP 2026-07-28 "Value Encoding": a value that is not plain ASCII travels as `=?base64?…?=`. */
const ENCODED = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/i;
/** A plain header value: visible ASCII and inner spaces only (no control or non-ASCII bytes). */
const PLAIN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The value a routing header stands for: decoded from the Base64 form, or as sent when plain;
 * `undefined` when it is neither (non-ASCII or control bytes, bad Base64, bad UTF-8), which
 * never matches.
 */
function decoded(value: string): string | undefined {
  const encoded = ENCODED.exec(value);
  if (encoded === null) return PLAIN.test(value) ? value : undefined;
  const bytes = Buffer.from(encoded[1]!, 'base64');
  // Only the canonical encoding: Buffer skips what is not Base64, which would let two spellings
  // stand for one value.
  if (bytes.toString('base64') !== encoded[1]) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Every value of `Mcp-Method` and `Mcp-Name`, under any spelling of their names; `undefined`
 * (nothing built) for a request with neither, as most are.
 */
function routingHeaders(
  rawHeaders: readonly string[],
): { method: string[]; name: string[] } | undefined {
  let found: { method: string[]; name: string[] } | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    if (raw.length !== 10 && raw.length !== 8) continue;
    // `Mcp_Name` too: CGI-style servers and some intermediaries read it as `Mcp-Name`.
    const name = raw.toLowerCase().replace('_', '-');
    if (name !== 'mcp-method' && name !== 'mcp-name') continue;
    found ??= { method: [], name: [] };
    found[name === 'mcp-method' ? 'method' : 'name'].push(rawHeaders[i + 1]!);
  }
  return found;
}

/**
 * Checks the `Mcp-Method` / `Mcp-Name` request headers (MCP 2026-07-28, "Standard headers")
 * against the parsed JSON-RPC body. Intermediaries route and meter on these headers while the
 * guard decides on the body, so the two must agree. Rules:
 * - an absent header is accepted (older protocol revisions do not send them);
 * - a present header must equal the body's `method`, and `Mcp-Name` the `params.name`
 *   (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`) it mirrors, after decoding
 *   the `=?base64?…?=` form of non-ASCII values; a value neither plain ASCII nor validly
 *   encoded never matches;
 * - a header sent more than once (as separate lines, or under another spelling of its name such
 *   as `Mcp_Name`), a batch, or a body that is no JSON-RPC object never matches a present header
 *   (the headers name one request).
 * @param rawHeaders the request's headers as Node keeps them (`req.rawHeaders`): names as sent,
 *   one entry per line, so a repeated header is seen as such.
 * @param body the parsed request body, whatever its shape.
 * @returns a description of the mismatch safe to send to the client, or `undefined` when the
 *   headers agree with the body (or are absent).
 */
export function headerMismatch(rawHeaders: readonly string[], body: unknown): string | undefined {
  const headers = routingHeaders(rawHeaders);
  if (headers === undefined) return undefined;
  const message =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as { method?: unknown; params?: unknown })
      : {};
  if (headers.method.length > 0) {
    const method = headers.method.length === 1 ? decoded(headers.method[0]!) : undefined;
    if (method === undefined || method !== message.method)
      return 'Mcp-Method header does not match the request body';
  }
  if (headers.name.length === 0) return undefined;
  const name = headers.name.length === 1 ? decoded(headers.name[0]!) : undefined;
  const param = typeof message.method === 'string' ? NAME_PARAM.get(message.method) : undefined;
  const params =
    typeof message.params === 'object' && message.params !== null
      ? (message.params as Record<string, unknown>)
      : {};
  if (name === undefined || param === undefined || !Object.hasOwn(params, param))
    return 'Mcp-Name header does not match the request body';
  if (params[param] !== name) return 'Mcp-Name header does not match the request body';
  return undefined;
}

/** The JSON-RPC id of a parsed body, for an error answering it; `null` when it has none. */
export function requestId(body: unknown): string | number | null {
  const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
