/**
 * `mcp-elevate/verifier`: what an MCP server imports to trust this authorization server's tokens
 * and enforce policy on tool calls. Depends on nothing of the server side (DESIGN §1).
 *
 * Start with {@link createMcpProtection}; the parts it wires are exported for custom setups.
 */
export * from './errors.ts';
export * from './token/index.ts';
export * from './http/index.ts';
export * from './policy-client/index.ts';
export { createMcpProtection, type McpProtection, type McpProtectionOptions } from './protect.ts';
export {
  protectMcpServer,
  createToolProtection,
  type ProtectedMcpServer,
  type ProtectedToolConfig,
} from './mcp/protect.ts';
export {
  releaseJsonResponseStreams,
  SDK_JSON_RESPONSE_LEAK_ISSUE,
} from './mcp/sdk-json-response-leak.ts';
export type { ProtectOptions, ProtectedToolOptions } from './mcp/types.ts';
export {
  createAuditClient,
  type AuditClient,
  type AuditClientOptions,
  type AuditStats,
} from './audit/client.ts';
export type {
  AuditDecision,
  AuditEvent,
  AuditEventInput,
  AuditResult,
  AuditSink,
} from './observability/audit-event.ts';
export {
  createToolMetrics,
  type ToolMetrics,
  type ToolMetricsOptions,
  type ToolStatus,
} from './observability/metrics.ts';
export { redact, REDACTED, SENSITIVE_KEY, type RedactOptions } from './observability/redact.ts';
export { traceToolCall, TRACER_NAME } from './observability/tracing.ts';
export { principalOf, primaryRole, type Principal } from './observability/principal.ts';
export {
  ToolError,
  EXECUTION_FAILED,
  TIMEOUT,
  RATE_LIMITED,
  DEPENDENCY_FAILED,
  type ToolErrorCode,
  type ToolErrorData,
} from './resilience/errors.ts';
export { BreakerRegistry, type BreakerRegistryOptions } from './resilience/breakers.ts';
export {
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitStore,
  type RateLimitVerdict,
  type RedisClientLike,
} from './resilience/rate-limit.ts';
export {
  withToolPolicy,
  sharedBreakers,
  rateLimitKey,
  type RetryOptions,
  type ToolPolicyOptions,
} from './resilience/policy.ts';
