import type { IncomingMessage, ServerResponse } from 'node:http';
import { JsonRpcParseError } from '../verifier/errors.ts';
import { readJsonRpcBody } from '../verifier/http/body.ts';
import { challenge } from '../verifier/http/challenge.ts';
import { isObject, reply, rpcError } from './answer.ts';
import { HEADER_MISMATCH, headerMismatch } from './headers.ts';

/**
 * Checks `Mcp-Method` / `Mcp-Name` before the guard decides: a call must not be challenged or
 * refused on a body its routing headers contradict. Only requests carrying them are read here;
 * the guard then reuses the parsed body. Answers and resolves true when the request is refused:
 * 400 (`-32700` for a body that is not JSON, {@link HEADER_MISMATCH} for a contradiction), or the
 * guard's answer for a body over `bodyLimitBytes`.
 */
export async function refuseMismatch(
  req: IncomingMessage,
  res: ServerResponse,
  options: { bodyLimitBytes: number; metadataUrl: string },
): Promise<boolean> {
  if (
    req.method !== 'POST' ||
    (req.headers['mcp-method'] === undefined && req.headers['mcp-name'] === undefined)
  )
    return false;
  let message: unknown;
  try {
    message = await readJsonRpcBody(req, options.bodyLimitBytes);
  } catch (error) {
    if (error instanceof JsonRpcParseError) reply(res, 400, rpcError(null, -32700, 'Parse error'));
    else {
      const answer = challenge(error, { resourceMetadataUrl: options.metadataUrl });
      reply(res, answer.status, answer.body, { ...answer.headers, Connection: 'close' });
    }
    return true;
  }
  if (!isObject(message)) return false;
  const mismatch = headerMismatch(req.headers, message);
  if (mismatch === undefined) return false;
  const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null;
  reply(res, 400, rpcError(id, HEADER_MISMATCH, mismatch));
  return true;
}
