import type { ServerResponse } from 'node:http';
import { EXECUTION_FAILED, ToolError } from '../verifier/resilience/errors.ts';
import { clientResponseHeaders } from './headers.ts';
import { relay, write, type JsonRpcId } from './relay.ts';
import { eventData, SseEventSplitter, withData } from './sse.ts';
import type { UpstreamResponse } from './upstream.ts';

/** Whether the caller may see a tool (the policy client's `visible`, bound to the caller). */
export type ToolVisible = (name: string) => Promise<boolean>;

/** Largest `tools/list` answer (JSON body, or one SSE event) read for filtering. */
export const TOOLS_LIST_LIMIT = 8 * 1024 * 1024;

const tooLarge = () =>
  new ToolError(EXECUTION_FAILED, 'The upstream tools/list answer is too large to filter', {
    retryable: false,
  });

/** A tool the caller may see; a failing check hides that tool only (fail closed). */
async function shown(tool: unknown, visible: ToolVisible): Promise<boolean> {
  const name = (tool as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') return false;
  try {
    return (await visible(name)) === true;
  } catch {
    return false;
  }
}

/**
 * `message` with `result.tools` cut to the tools the caller may see, when it is the answer to
 * request `id`; otherwise undefined (leave the message as it is).
 */
async function filtered(message: unknown, id: JsonRpcId, visible: ToolVisible): Promise<unknown> {
  const m = message as { id?: unknown; result?: { tools?: unknown } } | null;
  if (typeof m !== 'object' || m === null || m.id !== id || !Array.isArray(m.result?.tools))
    return undefined;
  const tools = m.result.tools as unknown[];
  const keep = await Promise.all(tools.map((tool) => shown(tool, visible)));
  return { ...m, result: { ...m.result, tools: tools.filter((_, i) => keep[i]) } };
}

async function readAll(upstream: UpstreamResponse, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      upstream.body.destroy();
      throw tooLarge();
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/**
 * Sends the upstream's answer to a `tools/list` request on, showing the caller only the tools
 * its roles could ever invoke (ARCHITECTURE.md §7.5). A JSON answer is read whole (at most `limit`
 * bytes) and rewritten; an SSE answer is rewritten event by event, other events (notifications,
 * answers to other requests) passing through untouched. Non-200 answers pass through as they are.
 * @throws ToolError (-32000) when the answer or one event exceeds `limit`: it cannot be filtered,
 *   and an unfiltered list must not reach the caller.
 */
export async function relayToolsList(
  upstream: UpstreamResponse,
  res: ServerResponse,
  id: JsonRpcId,
  visible: ToolVisible,
  signal: AbortSignal,
  limit = TOOLS_LIST_LIMIT,
): Promise<void> {
  const type = String(upstream.headers['content-type'] ?? '');
  if (upstream.statusCode !== 200) {
    res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
    return relay(upstream.body, res, signal);
  }
  if (!type.startsWith('text/event-stream')) {
    const text = await readAll(upstream, limit);
    let body = text;
    try {
      const rewritten = await filtered(JSON.parse(text), id, visible);
      if (rewritten !== undefined) body = JSON.stringify(rewritten);
    } catch {
      // Not JSON: nothing the client could read as a tool list either.
    }
    res.writeHead(200, {
      ...clientResponseHeaders(upstream.headers, true),
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
    return;
  }
  res.writeHead(200, clientResponseHeaders(upstream.headers, true));
  const splitter = new SseEventSplitter(limit);
  for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
    if (signal.aborted) throw signal.reason;
    let events: Buffer[];
    try {
      events = splitter.push(chunk);
    } catch {
      upstream.body.destroy();
      throw tooLarge();
    }
    for (const raw of events) await write(res, await rewriteEvent(raw, id, visible));
  }
  const rest = splitter.rest();
  if (rest.length > 0) await write(res, await rewriteEvent(rest, id, visible));
  res.end();
}

async function rewriteEvent(
  raw: Buffer,
  id: JsonRpcId,
  visible: ToolVisible,
): Promise<Buffer | string> {
  const event = raw.toString('utf8');
  const data = eventData(event);
  if (data === undefined || data === '') return raw;
  try {
    const rewritten = await filtered(JSON.parse(data), id, visible);
    return rewritten === undefined ? raw : withData(event, JSON.stringify(rewritten));
  } catch {
    return raw;
  }
}
