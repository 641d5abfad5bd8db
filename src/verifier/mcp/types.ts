import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Tracer } from '@opentelemetry/api';
import type { DecideToolCall, ToolCall, ToolCallDecision } from '../http/decide.ts';
import type { AuditSink } from '../observability/audit-event.ts';
import type { ToolMetrics } from '../observability/metrics.ts';
import type { BreakerRegistry } from '../resilience/breakers.ts';
import type { RetryOptions } from '../resilience/policy.ts';
import type { RateLimiter, RateLimiterOptions } from '../resilience/rate-limit.ts';

/** Options of `protectMcpServer`. */
export interface ProtectOptions {
  /**
   * Authorizes each call. `deny` and `step_up` answer JSON-RPC -32002 (the HTTP integration
   * normally answers step-up with a 403 challenge before the call gets here). A rejection also
   * answers -32002: without a decision nothing runs. The call's arguments are those the tool's
   * input schema parsed (`{}` for a tool without one).
   */
  decide: (authInfo: AuthInfo, call: ToolCall) => ToolCallDecision | Promise<ToolCallDecision>;
  /**
   * The `decide` of the HTTP guard (`nodeHttpAuth`, `expressAuth`, `koaAuth`) in front of these
   * servers, when its decisions are at least as strict as {@link ProtectOptions.decide}'s (e.g.
   * the same policy). A `tools/call` that this guard allowed in the same HTTP request, for the
   * same tool with deeply equal arguments, is then not decided a second time; it is still counted
   * and audited as allowed. Calls whose arguments the tool's input schema changed (defaults,
   * coercion) are decided again. `createMcpProtection` sets it for its own guards. Default: none
   * (every call is decided here).
   */
  guardDecide?: DecideToolCall;
  /**
   * Whether `tools/list` shows `toolName` to this caller (ARCHITECTURE.md §7.5: only tools its roles could ever
   * invoke). Requests without `authInfo` see no tools.
   */
  visible: (authInfo: AuthInfo, toolName: string) => boolean | Promise<boolean>;
  /** Metrics to record into. Default: `createToolMetrics()` on a new registry (see `.metrics`). */
  metrics?: ToolMetrics;
  /** Tracer for the `tool:<name>` spans. Default: the global tracer `mcp-elevate/verifier`. */
  tracer?: Pick<Tracer, 'startSpan'>;
  /** Where audit events go, e.g. `createAuditClient(…)`. Default: none. */
  audit?: AuditSink;
  /** Circuit breakers by dependency. Default: the process-wide `sharedBreakers`. */
  breakers?: BreakerRegistry;
  /**
   * Rate limit per principal (subject and client) and tool, or `false` for none: a `RateLimiter`
   * to share (`createMcpProtection` passes one built once, on its `rateLimitStore`), or the
   * settings of a new one, shared by every server of this protection (`createToolProtection`) —
   * budgets then hold across MCP sessions. Default: `{}` (60 calls per 60-second window).
   */
  rateLimit?: RateLimiterOptions | RateLimiter | false;
  /** Defaults for every tool; {@link ProtectedToolOptions} override them. */
  defaults?: Pick<ProtectedToolOptions, 'timeoutMs' | 'retry'>;
}

/** Per-tool options of `ProtectedMcpServer.registerTool`. */
export interface ProtectedToolOptions {
  /** Dependency whose circuit breaker guards this tool. Default: the tool name. */
  dependency?: string;
  /** Timeout of one attempt in ms. Default: `defaults.timeoutMs`, else `30_000`. */
  timeoutMs?: number;
  /** Retry settings (only idempotent/read-only tools retry), or `false`. Default: `defaults.retry`. */
  retry?: RetryOptions | false;
  /**
   * Whether this tool's audit events flush at once. Default: `true` when the annotations say
   * `destructiveHint: true` explicitly; calls under an elevated token are always critical.
   */
  critical?: boolean;
}
