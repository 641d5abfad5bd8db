import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

/**
 * The MCP SDK issue {@link releaseJsonResponseStreams} works around: "JSON-response-mode stream
 * mappings never complete their lifecycle".
 */
export const SDK_JSON_RESPONSE_LEAK_ISSUE =
  'https://github.com/modelcontextprotocol/typescript-sdk/issues/2559';

/*
 * The SDK bug (1.x up to at least 1.32.2, `server/webStandardStreamableHttp.js`): with
 * `enableJsonResponse: true`, each POST registers `_streamMapping.set(streamId, { resolveJson,
 * cleanup })`; `send()` answers through `resolveJson` and never calls `cleanup`, so the entry —
 * whose `resolveJson` closure holds the request, its headers and its `authInfo` — stays until the
 * transport closes. A stateful session therefore grows by one entry (a few KB) per request.
 *
 * The workaround wraps each such entry as it is registered: answering (`resolveJson`) also runs the
 * entry's own `cleanup`, at most once. An SDK that fixed the bug calls `cleanup` itself after
 * answering (as the 1.x fix does) or drops the entry: the once-guard makes that second call a
 * no-op, and deleting an absent key is harmless. The entry object keeps its identity (the SDK
 * compares entries it looks up). Internals it relies on are checked when it is applied and on each
 * registration; any other shape throws, naming the issue, rather than leaking silently.
 */

interface StreamEntry {
  resolveJson?: unknown;
  cleanup?: unknown;
}

const released = new WeakSet<object>();

function unsupported(what: string): Error {
  return new Error(
    `releaseJsonResponseStreams: ${what}. This @modelcontextprotocol/sdk version lacks the ` +
      `internals of the workaround for ${SDK_JSON_RESPONSE_LEAK_ISSUE} (JSON-response stream ` +
      'mappings never released); check whether it fixes that issue and update mcp-elevate.',
  );
}

function webTransportOf(transport: Transport): object | undefined {
  if (transport instanceof WebStandardStreamableHTTPServerTransport) return transport;
  if (!(transport instanceof StreamableHTTPServerTransport)) return undefined;
  const inner = (transport as unknown as { _webStandardTransport?: unknown })._webStandardTransport;
  if (!(inner instanceof WebStandardStreamableHTTPServerTransport)) {
    throw unsupported('StreamableHTTPServerTransport has no `_webStandardTransport`');
  }
  return inner;
}

/**
 * A stateless transport (no `sessionIdGenerator`) of an SDK that refuses to serve it a second
 * request (`_hasHandledRequest`) holds at most one entry, gone with the transport at the end of
 * its request: nothing to release, and the SDK's stateless pattern (a transport per request)
 * does not pay for the workaround.
 */
function oneRequestOnly(web: object): boolean {
  return (
    (web as { sessionIdGenerator?: unknown }).sessionIdGenerator === undefined &&
    '_hasHandledRequest' in web
  );
}

/** Makes a JSON-response entry release itself once answered; leaves SSE entries as they are. */
function releasing(entry: unknown): void {
  if (typeof entry !== 'object' || entry === null) {
    throw unsupported('a stream mapping is not an object');
  }
  // SSE streams (with a `controller`) are ended by the SDK itself, in every mode.
  if ('controller' in entry) return;
  const stream = entry as StreamEntry;
  const { resolveJson, cleanup } = stream;
  if (typeof resolveJson !== 'function' || typeof cleanup !== 'function') {
    throw unsupported('a JSON-response stream mapping lacks `resolveJson` or `cleanup`');
  }
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    cleanup.call(stream);
  };
  stream.cleanup = once;
  stream.resolveJson = (response: unknown) => {
    resolveJson.call(stream, response);
    once();
  };
}

/**
 * Works around MCP SDK issue
 * {@link https://github.com/modelcontextprotocol/typescript-sdk/issues/2559 | #2559}: a
 * Streamable HTTP server transport with `enableJsonResponse: true` keeps one internal entry per
 * answered POST (holding the request's headers and `authInfo`, a few KB) until the transport
 * closes, so a long-lived session grows without bound. After this call each entry is released as
 * soon as its response is handed out. `protectMcpServer` applies it to every transport its server
 * connects; call it yourself for transports of unprotected servers.
 *
 * Harmless where the SDK fixed the issue (the SDK's own release then finds nothing left to do;
 * nothing is released twice), for SSE responses, for other transports (returned untouched) and
 * when applied twice. Stateless transports (no `sessionIdGenerator`), which the SDK lets serve
 * one request only, are returned untouched: their one entry goes with them.
 *
 * @param transport - a `StreamableHTTPServerTransport` or
 *   `WebStandardStreamableHTTPServerTransport` (any other transport is returned as is).
 * @returns `transport`, for `releaseJsonResponseStreams(new StreamableHTTPServerTransport(…))`.
 * @throws Error naming the issue when the SDK's internals no longer have the shape the workaround
 *   needs: here for the transport, or from the request (a 500) for a changed per-request entry.
 */
export function releaseJsonResponseStreams<T extends Transport>(transport: T): T {
  const web = webTransportOf(transport);
  if (web === undefined || oneRequestOnly(web) || released.has(web)) return transport;
  const map = (web as { _streamMapping?: unknown })._streamMapping;
  if (!(map instanceof Map)) throw unsupported('the transport has no `_streamMapping` map');
  const set = map.set;
  Object.defineProperty(map, 'set', {
    configurable: true,
    writable: true,
    value(key: unknown, entry: unknown) {
      releasing(entry);
      return set.call(map, key, entry);
    },
  });
  released.add(web);
  return transport;
}

/**
 * Applies {@link releaseJsonResponseStreams} to the transport `server` is connected to, if any,
 * and to every transport it connects from now on (an unsupported SDK rejects `connect`).
 */
export function releaseJsonResponseStreamsOnConnect(server: McpServer): void {
  // The low-level `Server` is where `McpServer.connect` ends up: hooking it covers both.
  const protocol = server.server;
  const current = protocol.transport;
  if (current !== undefined) releaseJsonResponseStreams(current);
  const connect = protocol.connect.bind(protocol);
  protocol.connect = async (transport) => connect(releaseJsonResponseStreams(transport));
}
