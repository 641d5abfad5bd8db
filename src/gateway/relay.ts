import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { TIMEOUT, type ToolError } from '../verifier/resilience/errors.ts';
import { eventData } from './sse.ts';

/** A JSON-RPC request id. */
export type JsonRpcId = string | number | null;

/**
 * A controller aborted when the client goes away before its response was finished; the caller
 * may abort it for its own reasons too (e.g. a tool call's timeout).
 */
export function clientGone(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}

/** Writes `chunk`, waiting for the client to drain when its buffer is full (backpressure). */
export async function write(res: ServerResponse, chunk: Buffer | string): Promise<void> {
  if (res.destroyed) throw new Error('client connection closed');
  if (res.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      res.off('close', gone);
      resolve();
    };
    const gone = () => {
      res.off('drain', done);
      reject(new Error('client connection closed'));
    };
    res.once('drain', done);
    res.once('close', gone);
  });
}

/**
 * Streams `body` to the client as it arrives: one chunk in memory at a time, whatever the size.
 * `observe` sees every chunk (e.g. to sniff a small result). Stops, without ending the response,
 * when `signal` aborts; rejects when the upstream or the client connection fails.
 */
export async function relay(
  body: Readable,
  res: ServerResponse,
  signal: AbortSignal,
  observe?: (chunk: Buffer) => void,
): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (signal.aborted) throw signal.reason;
    observe?.(chunk);
    await write(res, chunk);
  }
  if (signal.aborted) throw signal.reason;
  res.end();
}

/** The JSON-RPC error response for `error` (code, client-safe message, data). */
export function errorMessage(id: JsonRpcId, error: ToolError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toJsonRpcError() });
}

/**
 * Answers a failed exchange. Before any byte was sent: a JSON-RPC error (HTTP 200 when it answers
 * a request, so MCP clients see the code and `data`; 502/504 when there is no request id). On an
 * SSE stream already under way: the error as a last event for the request. A JSON body already
 * under way cannot be amended: the connection is cut, which the client sees as a failed request.
 * @param sentType Content-Type of the response already under way, if any.
 */
export function writeFailure(
  res: ServerResponse,
  id: JsonRpcId | undefined,
  error: ToolError,
  sentType = '',
): void {
  if (res.destroyed || res.writableEnded) return;
  if (!res.headersSent) {
    const status = id !== undefined && id !== null ? 200 : error.code === TIMEOUT ? 504 : 502;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
    };
    if (error.data.retryAfterMs !== undefined)
      headers['Retry-After'] = String(Math.ceil(error.data.retryAfterMs / 1000));
    res.writeHead(status, headers);
    res.end(errorMessage(id ?? null, error));
    return;
  }
  if (sentType.startsWith('text/event-stream') && id !== undefined) {
    res.end(`event: message\ndata: ${errorMessage(id, error)}\n\n`);
    return;
  }
  res.destroy();
}

/** Largest response inspected for its outcome; bigger ones count as delivered. */
const SNIFF_LIMIT = 64 * 1024;

/**
 * Watches a tool call's response for its outcome (a JSON-RPC error or `isError: true`) without
 * holding more than 64 KiB: larger responses are not inspected and count as successful.
 */
export class OutcomeSniffer {
  #parts: Buffer[] = [];
  #size = 0;

  /** Feeds a chunk of the response body. */
  readonly push = (chunk: Buffer): void => {
    this.#size += chunk.length;
    if (this.#size <= SNIFF_LIMIT) this.#parts.push(chunk);
    else this.#parts = [];
  };

  /** Whether the response answered request `id` with an error or an `isError` result. */
  failed(contentType: string, id: JsonRpcId | undefined): boolean {
    if (this.#size > SNIFF_LIMIT) return false;
    const text = (
      this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#size)
    ).toString('utf8');
    // Both outcomes need a member named "error" or "isError"; JSON can spell a name with
    // escapes, so only a body with neither that text nor any escape is read as success unparsed.
    if (!text.includes('rror') && !text.includes('\\u')) return false;
    const messages: unknown[] = [];
    try {
      if (contentType.startsWith('text/event-stream')) {
        for (const event of text.split(/\r\n\r\n|\n\n|\r\r/)) {
          const data = eventData(event);
          if (data !== undefined && data !== '') messages.push(JSON.parse(data));
        }
      } else {
        messages.push(JSON.parse(text));
      }
    } catch {
      return false;
    }
    const answer = messages.find(
      (m) => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id,
    ) as { error?: unknown; result?: { isError?: unknown } } | undefined;
    return answer !== undefined && (answer.error !== undefined || answer.result?.isError === true);
  }
}
