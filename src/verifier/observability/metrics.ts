import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Status label of `mcp_tool_requests_total`. */
export type ToolStatus =
  'success' | 'error' | 'timeout' | 'denied' | 'rate_limited' | 'unavailable';

/** The verifier's Prometheus metrics (ARCHITECTURE.md §7.6). */
export interface ToolMetrics {
  /** Registry the metrics live in; serve `registry.metrics()` on `/metrics`. */
  readonly registry: Registry;
  /** `mcp_tool_requests_total{tool,status,user_role}`: tool calls by outcome. */
  readonly toolRequests: Counter<'tool' | 'status' | 'user_role'>;
  /** `mcp_tool_duration_seconds{tool}`: wall time of a tool call, retries included. */
  readonly toolDuration: Histogram<'tool'>;
  /** `mcp_active_requests`: tool calls in progress. */
  readonly activeRequests: Gauge;
  /** `mcp_auth_decisions_total{decision}`: authorization decisions (allow, deny, step_up). */
  readonly authDecisions: Counter<'decision'>;
  /**
   * The `tool` label for a tool name a client sent. Tool names come from clients (a `tools/call`
   * checked at the HTTP edge or by the gateway), so each distinct name would be a new time series:
   * a name that is not a valid MCP tool name (1–128 of `A–Z a–z 0–9 _ - .`) is labelled
   * `"_invalid"`, and once `maxToolLabels` distinct names have been seen, further new names are
   * labelled `"_other"`. Names already seen keep their own label.
   */
  toolLabel(name: string): string;
}

/** Options of {@link createToolMetrics}. */
export interface ToolMetricsOptions {
  /** Registry to register in. Default: a new `Registry` (never prom-client's global one). */
  registry?: Registry;
  /**
   * Histogram buckets in seconds. Default: `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
   * 10, 30, 60]`, reaching past the 30 s default tool timeout.
   */
  durationBuckets?: number[];
  /**
   * Most distinct `tool` label values these metrics record; later new names share `"_other"`.
   * Default: `200`, well above the tool count of any one MCP server.
   */
  maxToolLabels?: number;
}

/** MCP tool names (MCP 2025-11-25, "Tool names"): 1 to 128 of these characters. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const DEFAULT_MAX_TOOL_LABELS = 200;

/** Bounded set of `tool` label values (see {@link ToolMetrics.toolLabel}). */
function toolLabels(max: number): (name: string) => string {
  const seen = new Set<string>();
  return (name) => {
    if (seen.has(name)) return name;
    if (!TOOL_NAME.test(name)) return '_invalid';
    if (seen.size >= max) return '_other';
    seen.add(name);
    return name;
  };
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Creates (or, when `registry` already holds them, reuses) the four tool metrics. Reuse matters
 * because prom-client refuses a second metric of the same name, and one registry is commonly shared
 * by several protected servers in one process.
 */
export function createToolMetrics(options: ToolMetricsOptions = {}): ToolMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const existing = <M>(name: string): M | undefined =>
    registry.getSingleMetric(name) as M | undefined;

  return {
    registry,
    toolLabel: toolLabels(options.maxToolLabels ?? DEFAULT_MAX_TOOL_LABELS),
    toolRequests:
      existing<Counter<'tool' | 'status' | 'user_role'>>('mcp_tool_requests_total') ??
      new Counter({
        name: 'mcp_tool_requests_total',
        help: 'MCP tool calls by tool, outcome and primary role of the caller',
        labelNames: ['tool', 'status', 'user_role'] as const,
        registers,
      }),
    toolDuration:
      existing<Histogram<'tool'>>('mcp_tool_duration_seconds') ??
      new Histogram({
        name: 'mcp_tool_duration_seconds',
        help: 'Duration of MCP tool calls in seconds, retries included',
        labelNames: ['tool'] as const,
        buckets: options.durationBuckets ?? DEFAULT_BUCKETS,
        registers,
      }),
    activeRequests:
      existing<Gauge>('mcp_active_requests') ??
      new Gauge({ name: 'mcp_active_requests', help: 'MCP tool calls in progress', registers }),
    authDecisions:
      existing<Counter<'decision'>>('mcp_auth_decisions_total') ??
      new Counter({
        name: 'mcp_auth_decisions_total',
        help: 'Authorization decisions on MCP tool calls',
        labelNames: ['decision'] as const,
        registers,
      }),
  };
}
