import type { IncomingMessage } from 'node:http';
import { JsonRpcParseError, PayloadTooLargeError } from '../errors.ts';

/** Default body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

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
 *   when not JSON.
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
  if (req.body !== undefined) return req.body;
  const declared = Number(req.headers['content-length']);
  // Refuse before reading a byte when the client already told us it is too big.
  if (Number.isFinite(declared) && declared > limitBytes)
    throw new PayloadTooLargeError('request body too large');
  const parsed = parseJson(await readText(req, limitBytes));
  req.body = parsed;
  return parsed;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonRpcParseError('Parse error: invalid JSON');
  }
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
