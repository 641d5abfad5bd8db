import type {
  McpServer,
  RegisteredTool,
  ToolCallback,
} from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { createToolMetrics } from '../observability/metrics.ts';
import type { ToolMetrics } from '../observability/metrics.ts';
import { createPipelineContext, runTool, toolPipeline } from './pipeline.ts';
import type { NormalisedCallback, PipelineContext } from './pipeline.ts';
import { installToolHooks } from './sdk-hooks.ts';
import { releaseJsonResponseStreamsOnConnect } from './sdk-json-response-leak.ts';
import type { ProtectedToolOptions, ProtectOptions } from './types.ts';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type SchemaArg = undefined | ZodRawShapeCompat | AnySchema;

/** Tool definition, as for `McpServer.registerTool`. */
export interface ProtectedToolConfig<
  InputArgs extends SchemaArg,
  OutputArgs extends ZodRawShapeCompat | AnySchema,
> {
  title?: string;
  description?: string;
  inputSchema?: InputArgs;
  outputSchema?: OutputArgs;
  /** MCP annotations; `readOnlyHint` / `idempotentHint` enable retries. */
  annotations?: ToolAnnotations;
  _meta?: Record<string, unknown>;
}

/** What {@link protectMcpServer} returns. */
export interface ProtectedMcpServer {
  /** The protected server. */
  readonly server: McpServer;
  /** The metrics every protected call records. */
  readonly metrics: ToolMetrics;
  /**
   * Registers a tool like `McpServer.registerTool`, with the protection pipeline around `cb`.
   * The returned handle works as usual; `update({ callback })` keeps the new callback protected,
   * and renaming is refused (remove and register again instead).
   */
  registerTool<
    OutputArgs extends ZodRawShapeCompat | AnySchema,
    InputArgs extends SchemaArg = undefined,
  >(
    name: string,
    config: ProtectedToolConfig<InputArgs, OutputArgs>,
    cb: ToolCallback<InputArgs>,
    options?: ProtectedToolOptions,
  ): RegisteredTool;
}

const protectedServers = new WeakSet<McpServer>();

/**
 * Builds a protection for tools once, to apply to any number of `McpServer`s — one per request
 * (the SDK's stateless pattern) or one per session. What is worth sharing is built here and
 * shared by every server it protects: the rate limiter (budgets per principal and tool, whatever
 * the server or session), the metrics, and each tool's resilience policy (retry, breaker,
 * timeout), built on the first registration of a tool with given settings.
 * `createMcpProtection` keeps one for its lifetime.
 * @returns `protect(server)`, which behaves as {@link protectMcpServer}.
 */
export function createToolProtection(
  options: ProtectOptions,
): (server: McpServer) => ProtectedMcpServer {
  const metrics = options.metrics ?? createToolMetrics();
  const ctx = createPipelineContext(options, metrics);
  return (server) => protectWith(server, ctx, options.visible);
}

/**
 * Protects the tools of an `McpServer` (ARCHITECTURE.md §7.5–7.6). Register tools through the returned
 * object's `registerTool`; each call then runs: span and metrics → `decide` → rate limit per
 * principal and tool → circuit breaker of the tool's dependency → retry (idempotent or read-only
 * tools only) → timeout → handler, and leaves one audit event. Failures are JSON-RPC errors
 * -32000…-32004 with `data: { retryable, retryAfterMs?, suggestedAction? }`.
 *
 * `tools/list` answers each caller with the protected tools `visible(authInfo, name)` accepts.
 * Protection fails closed: tools registered on the `McpServer` directly are neither listed nor
 * callable, and requests without `authInfo` see no tools and are refused (-32002).
 *
 * Every Streamable HTTP transport the server connects gets `releaseJsonResponseStreams`,
 * the workaround for MCP SDK issue #2559 (JSON-response mode keeps one entry per request until
 * the session closes).
 *
 * @throws TypeError when `server` is already protected.
 */
export function protectMcpServer(server: McpServer, options: ProtectOptions): ProtectedMcpServer {
  return createToolProtection(options)(server);
}

/**
 * The McpServer's own table of tools by name. Like the request handlers (`sdk-hooks.ts`), it has
 * no public accessor; read once, and an SDK upgrade that removed it fails loudly.
 */
function registeredTools(server: McpServer): Record<string, unknown> {
  const tools = (server as unknown as { _registeredTools?: unknown })._registeredTools;
  if (typeof tools !== 'object' || tools === null) {
    throw new Error(
      "protectMcpServer: cannot find McpServer's registered tools; this @modelcontextprotocol/sdk version is not supported",
    );
  }
  return tools as Record<string, unknown>;
}

function protectWith(
  server: McpServer,
  ctx: PipelineContext,
  visible: ProtectOptions['visible'],
): ProtectedMcpServer {
  if (protectedServers.has(server)) throw new TypeError('this McpServer is already protected');
  protectedServers.add(server);
  // Until the MCP SDK releases JSON-response stream mappings itself (its issue #2559).
  releaseJsonResponseStreamsOnConnect(server);
  const { metrics } = ctx;
  // The tools registered through the protection, by name: a name is protected only while the
  // McpServer's tool of that name is still the one registered here.
  const registered = new Map<string, RegisteredTool>();
  let hooked = false;

  // The SDK calls `(args, extra)` for tools with an input schema and `(extra)` otherwise.
  const adapt = (
    name: string,
    withInput: boolean,
    annotations: ToolAnnotations | undefined,
    cb: unknown,
    toolOptions: ProtectedToolOptions,
  ): ToolCallback<ZodRawShapeCompat> => {
    const tool = toolPipeline(ctx, name, annotations, toolOptions);
    if (withInput) {
      const callback = cb as NormalisedCallback<Extra>;
      return ((args: Record<string, unknown>, extra: Extra) =>
        runTool(ctx, tool, callback, args, extra)) as ToolCallback<ZodRawShapeCompat>;
    }
    const callback: NormalisedCallback<Extra> = (_args, extra) =>
      (cb as (e: Extra) => CallToolResult | Promise<CallToolResult>)(extra);
    return ((extra: Extra) =>
      runTool(ctx, tool, callback, undefined, extra)) as unknown as ToolCallback<ZodRawShapeCompat>;
  };

  return {
    server,
    metrics,
    registerTool<
      OutputArgs extends ZodRawShapeCompat | AnySchema,
      InputArgs extends SchemaArg = undefined,
    >(
      name: string,
      config: ProtectedToolConfig<InputArgs, OutputArgs>,
      cb: ToolCallback<InputArgs>,
      toolOptions: ProtectedToolOptions = {},
    ): RegisteredTool {
      // Same test as the SDK's getZodSchemaObject: a falsy schema means a callback of `(extra)`.
      const withInput = Boolean(config.inputSchema);
      const wrapped = adapt(name, withInput, config.annotations, cb, toolOptions);
      const tool = server.registerTool(name, config, wrapped as unknown as ToolCallback<InputArgs>);
      registered.set(name, tool);
      let raw: unknown = cb;
      const update = tool.update.bind(tool);
      tool.update = (updates) => {
        if (typeof updates.name === 'string' && updates.name !== name) {
          throw new TypeError(
            'renaming a protected tool is not supported; remove it and register it again',
          );
        }
        if (updates.name === null) {
          registered.delete(name);
          update(updates);
          return;
        }
        if (updates.callback !== undefined) raw = updates.callback;
        // Whatever changed, the SDK's handler must stay the protected one, with current annotations.
        const rest = { ...updates, callback: undefined };
        update(rest);
        update({
          callback: adapt(name, tool.inputSchema !== undefined, tool.annotations, raw, toolOptions),
        });
      };
      if (!hooked) {
        const current = registeredTools(server);
        installToolHooks(server, {
          // A tool registered on the McpServer directly and renamed onto a protected tool's name
          // replaces it there: that name is then no longer protected (hidden and refused).
          isProtected: (n) => registered.get(n) !== undefined && current[n] === registered.get(n),
          visible,
        });
        hooked = true;
      }
      return tool;
    },
  };
}
