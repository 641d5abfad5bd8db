import type { IncomingMessage } from 'node:http';
import { JsonRpcParseError, PayloadTooLargeError } from '../errors.ts';

/** Default body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Deepest nesting of arrays and objects accepted in a JSON-RPC body. Copying, serialising or
 * redacting deeper values recurses past the stack (about 5,000 levels); tool arguments never need
 * more than a few dozen.
 */
export const MAX_JSON_DEPTH = 64;

/** A Node request that may already carry a parsed body (Express `express.json()`, or an earlier read). */
export type RequestWithBody = IncomingMessage & { body?: unknown };

/**
 * Reads and parses a JSON-RPC request body, at most `limitBytes`, and stores it on `req.body` so
 * the MCP SDK transport can reuse it: `transport.handleRequest(req, res, req.body)` (the stream
 * can be read only once). A body already parsed on `req.body` is returned as is; a raw one (a
 * string or Buffer, from `express.text()` / `express.raw()`) is parsed and returned, and stays
 * on `req.body` as it was.
 *
 * @param limitBytes Largest accepted body. Default 1 MiB.
 * @throws PayloadTooLargeError (→ 413) when larger, JsonRpcParseError (→ 400, JSON-RPC -32700)
 *   when not JSON or nested deeper than {@link MAX_JSON_DEPTH}, whoever parsed it.
 */
export async function readJsonRpcBody(
  req: RequestWithBody,
  limitBytes = DEFAULT_BODY_LIMIT,
): Promise<unknown> {
  if (typeof req.body === 'string' || req.body instanceof Uint8Array) {
    // A raw body (express.raw(), express.text()) is JSON still to parse: decided as parsed here,
    // and left on req.body as the application put it there (it parses it itself).
    const raw = req.body;
    if (Buffer.byteLength(raw) > limitBytes)
      throw new PayloadTooLargeError('request body too large');
    return parseJson(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  }
  if (req.body !== undefined) return shallowEnough(req.body);
  const declared = Number(req.headers['content-length']);
  // Refuse before reading a byte when the client already told us it is too big.
  if (Number.isFinite(declared) && declared > limitBytes)
    throw new PayloadTooLargeError('request body too large');
  const parsed = parseJson(await readText(req, limitBytes));
  req.body = parsed;
  return parsed;
}

function parseJson(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JsonRpcParseError('Parse error: invalid JSON');
  }
  return shallowEnough(parsed);
}

/** `value` itself when no array or object in it is nested deeper than {@link MAX_JSON_DEPTH}. */
function shallowEnough(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // Iterative: the check must not recurse into what it guards against.
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_JSON_DEPTH)
      throw new JsonRpcParseError(`Parse error: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    for (const child of Array.isArray(node) ? node : Object.values(node as object))
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return value;
}

/**
 * Collects the body. Past the limit it rejects at once but keeps draining (and discarding) the
 * stream: destroying the request would destroy the socket and the 413 could never be sent.
 */
function readText(req: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer | string) => {
      if (tooLarge) return;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limitBytes) {
        tooLarge = true;
        reject(new PayloadTooLargeError('request body too large'));
        return;
      }
      chunks.push(buffer);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
