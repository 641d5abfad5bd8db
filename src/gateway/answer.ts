import type { ServerResponse } from 'node:http';
import type { JsonRpcId } from './relay.ts';

/** Answers with a JSON body the gateway wrote itself; never cached. */
export function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/** A JSON-RPC error response (`id` null when the request's is unknown). */
export const rpcError = (id: JsonRpcId | undefined, code: number, message: string) => ({
  jsonrpc: '2.0',
  id: id ?? null,
  error: { code, message },
});

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
