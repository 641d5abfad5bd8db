import { AsyncLocalStorage } from 'node:async_hooks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ListToolsResult, ServerResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolError } from '../resilience/errors.ts';

/**
 * Hooks into `McpServer`'s `tools/list` and `tools/call` request handlers.
 *
 * Why not just throw from the tool callback: `McpServer` catches every error a tool callback
 * throws (McpError included) and answers a *successful* JSON-RPC response with
 * `{ isError: true, content: [message] }` (see `setToolRequestHandlers` in the SDK's
 * `server/mcp.js`). To put our codes (-32000…-32004) on the wire, the `tools/call` handler is
 * replaced by one that runs `McpServer`'s own handler (schema validation, output checks stay the
 * SDK's) and, when the protected callback reported a `ToolError` for this request, throws it from
 * the request handler, where the SDK's `Protocol` turns `{ code, message, data }` into the JSON-RPC
 * error. The report travels in an `AsyncLocalStorage` slot, which survives the SDK copying `extra`.
 *
 * `McpServer` offers no public way to reach its handlers, so this reads the `Protocol`'s
 * `_requestHandlers` map once, at installation, and fails loudly if an SDK upgrade removed it.
 * The replacements go into that map as they are: `setRequestHandler` would wrap them in a second
 * round of request and result validation around the SDK's own, on every call.
 */

type RawHandler = (request: unknown, extra: unknown) => Promise<unknown>;

const failureSlot = new AsyncLocalStorage<{ error?: ToolError }>();

/** Called by a protected callback: the request's answer becomes this JSON-RPC error. */
export function reportToolFailure(error: ToolError): void {
  const slot = failureSlot.getStore();
  if (slot !== undefined) slot.error = error;
}

/** What the replaced handlers ask of the protection. */
export interface ToolHooks {
  /** Whether `name` was registered through the protection (others are hidden and refused). */
  isProtected(name: string): boolean;
  /** Whether `tools/list` shows `name` to this caller. */
  visible(authInfo: AuthInfo, name: string): boolean | Promise<boolean>;
}

type RawExtra = { authInfo?: AuthInfo };

function requestHandlers(server: McpServer): Map<string, RawHandler> {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (
    !(handlers instanceof Map) ||
    typeof handlers.get('tools/list') !== 'function' ||
    typeof handlers.get('tools/call') !== 'function'
  ) {
    throw new Error(
      "protectMcpServer: cannot find McpServer's tools handlers; this @modelcontextprotocol/sdk version is not supported",
    );
  }
  return handlers as Map<string, RawHandler>;
}

/** The tool a raw (not yet validated) `tools/call` request names, if it names one. */
function toolName(request: unknown): unknown {
  return (request as { params?: { name?: unknown } } | undefined)?.params?.name;
}

/** Replaces `tools/list` and `tools/call` of `server`; call once, after a tool was registered. */
export function installToolHooks(server: McpServer, hooks: ToolHooks): void {
  const handlers = requestHandlers(server);
  const list = handlers.get('tools/list')!;
  const call = handlers.get('tools/call')!;

  handlers.set('tools/list', async (request, rawExtra) => {
    const result = (await list(request, rawExtra)) as ListToolsResult;
    const authInfo = (rawExtra as RawExtra).authInfo;
    if (authInfo === undefined) return { ...result, tools: [] };
    const shown = await Promise.all(
      // A failing visibility check hides that tool only: fail closed without emptying the list.
      result.tools.map(async (tool) => {
        if (!hooks.isProtected(tool.name)) return false;
        try {
          return (await hooks.visible(authInfo, tool.name)) === true;
        } catch {
          return false;
        }
      }),
    );
    return { ...result, tools: result.tools.filter((_, i) => shown[i]) };
  });

  handlers.set('tools/call', (request, extra) => {
    const name = toolName(request);
    // Fail closed: a tool registered on the McpServer directly has no authorization around it.
    // A request without a string name is left to the SDK's validation, which refuses it.
    if (typeof name === 'string' && !hooks.isProtected(name)) {
      return Promise.reject(new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`));
    }
    const slot: { error?: ToolError } = {};
    return failureSlot.run(slot, async () => {
      const result = (await call(request, extra)) as ServerResult;
      if (slot.error !== undefined) throw slot.error;
      return result;
    });
  });
}
