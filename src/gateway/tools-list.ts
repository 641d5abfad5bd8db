import type { ServerResponse } from 'node:http';
import { EXECUTION_FAILED, ToolError } from '../verifier/resilience/errors.ts';
import { clientResponseHeaders } from './headers.ts';
import { relay, write } from './relay.ts';
import { eventData, SseEventSplitter, withData } from './sse.ts';
import { discardBody, type UpstreamResponse } from './upstream.ts';

/** Whether the caller may see a tool (the policy client's `visible`, bound to the caller). */
export type ToolVisible = (name: string) => Promise<boolean>;

/** Largest `tools/list` answer (JSON body, or one SSE event) read for filtering. */
export const TOOLS_LIST_LIMIT = 8 * 1024 * 1024;

const BOM = '\uFEFF';

const unfilterable = (why: string) =>
  new ToolError(EXECUTION_FAILED, `The upstream tools/list answer ${why}`, { retryable: false });

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
 * `message` with every tool list in it cut to the tools the caller may see, or undefined when it
 * holds none. A tool list is the `result.tools` array of any JSON-RPC response, whatever request
 * it answers (its id is not trusted to say), alone or in a batch: a client reads it as one.
 */
async function filtered(message: unknown, visible: ToolVisible): Promise<unknown> {
  if (Array.isArray(message)) {
    const items = await Promise.all(message.map((item) => filtered(item, visible)));
    return items.some((item) => item !== undefined)
      ? items.map((item, i) => item ?? message[i])
      : undefined;
  }
  const m = message as { result?: { tools?: unknown } } | null;
  if (typeof m !== 'object' || m === null || !Array.isArray(m.result?.tools)) return undefined;
  const tools = m.result.tools as unknown[];
  const keep = await Promise.all(tools.map((tool) => shown(tool, visible)));
  return { ...m, result: { ...m.result, tools: tools.filter((_, i) => keep[i]) } };
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(header: string | string[] | undefined): string {
  return String(header ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}

async function readAll(upstream: UpstreamResponse, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      discardBody(upstream.body);
      throw unfilterable('is too large to filter');
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/**
 * Sends the upstream's answer to a `tools/list` request on, showing the caller only the tools
 * its roles could ever invoke (ARCHITECTURE.md §7.5). Fails closed: any 2xx answer is read, a
 * JSON one whole (at most `limit` bytes; a byte order mark, a batch and any id are read as a
 * client would) and rewritten; an SSE one event by event ({@link relayFilteredEvents}). An
 * answer with an error status passes through as it is: a client reads no result from it.
 * @throws ToolError (-32000) when the answer or one event exceeds `limit`, or a JSON answer is
 *   not JSON: it cannot be filtered, and an unfiltered list must not reach the caller.
 */
export async function relayToolsList(
  upstream: UpstreamResponse,
  res: ServerResponse,
  visible: ToolVisible,
  signal: AbortSignal,
  limit = TOOLS_LIST_LIMIT,
): Promise<void> {
  if (upstream.statusCode < 200 || upstream.statusCode >= 300) {
    res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
    return relay(upstream.body, res, signal);
  }
  if (mediaType(upstream.headers['content-type']) === 'text/event-stream')
    return relayFilteredEvents(upstream, res, visible, signal, limit);
  const text = await readAll(upstream, limit);
  let body = text;
  if (text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.startsWith(BOM) ? text.slice(1) : text);
    } catch {
      throw unfilterable('is not JSON');
    }
    const rewritten = await filtered(parsed, visible);
    if (rewritten !== undefined) body = JSON.stringify(rewritten);
  }
  res.writeHead(upstream.statusCode, {
    ...clientResponseHeaders(upstream.headers, true),
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Relays an SSE answer event by event (each at most `limit` bytes), every tool list in an
 * event's data cut to what the caller may see (see {@link filtered}); a byte order mark opening
 * the stream is dropped, as clients drop it. Used for `tools/list` answers and for GET streams,
 * where a resumed stream (`Last-Event-ID`) replays earlier answers, tool lists among them.
 * @throws ToolError (-32000) when one event exceeds `limit`.
 */
export async function relayFilteredEvents(
  upstream: UpstreamResponse,
  res: ServerResponse,
  visible: ToolVisible,
  signal: AbortSignal,
  limit = TOOLS_LIST_LIMIT,
): Promise<void> {
  res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers, true));
  const splitter = new SseEventSplitter(limit);
  let first = true;
  for await (const bytes of upstream.body as AsyncIterable<Buffer>) {
    if (signal.aborted) throw signal.reason;
    let chunk = bytes;
    if (first && chunk.length > 0) {
      first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let events: Buffer[];
    try {
      events = splitter.push(chunk);
    } catch {
      discardBody(upstream.body);
      throw unfilterable('has an event too large to filter');
    }
    for (const raw of events) await write(res, await rewriteEvent(raw, visible));
  }
  const rest = splitter.rest();
  if (rest.length > 0) await write(res, await rewriteEvent(rest, visible));
  res.end();
}

async function rewriteEvent(raw: Buffer, visible: ToolVisible): Promise<Buffer | string> {
  const event = raw.toString('utf8');
  const data = eventData(event);
  if (data === undefined || data === '') return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    // Data a JSON reader cannot read holds no tool list it could show.
    return raw;
  }
  const rewritten = await filtered(parsed, visible);
  return rewritten === undefined ? raw : withData(event, JSON.stringify(rewritten));
}
