/**
 * `mcp-elevate/verifier`: what an MCP server imports to trust this authorization server's tokens
 * and enforce policy on tool calls. Depends on nothing of the server side (ARCHITECTURE.md §1).
 *
 * Start with {@link createMcpProtection}; the parts it wires are exported for custom setups.
 * Named exports only: what is not listed here (header quoting, the process-wide breaker
 * registry, key helpers) is internal and may change without notice.
 */
export {
  VerifierError,
  MissingTokenError,
  InvalidTokenError,
  InvalidDpopProofError,
  InsufficientScopeError,
  InvalidRequestError,
  TemporarilyUnavailableError,
  PayloadTooLargeError,
  JsonRpcParseError,
  type VerifierErrorOptions,
} from './errors.ts';
export {
  createTokenVerifier,
  toAuthInfo,
  type TokenVerifierOptions,
  type FetchLike,
  type TokenVerifier,
  type VerifiedToken,
  type VerifyContext,
} from './token/index.ts';
export {
  challenge,
  type ChallengeContext,
  type ChallengeOptions,
  type ErrorResponse,
  protectedResourceMetadata,
  metadataPath,
  metadataUrl,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
  verifyBearer,
  type HeaderValue,
  type RequestInfo,
  readJsonRpcBody,
  DEFAULT_BODY_LIMIT,
  headerMismatch,
  HEADER_MISMATCH,
  type RequestWithBody,
  gateToolCalls,
  UNAUTHORIZED,
  type DecideToolCall,
  type ToolCall,
  type ToolCallDecision,
  type GateOutcome,
  createGuard,
  type Guard,
  type GuardResult,
  type ResourceServerAuthOptions,
  nodeHttpAuth,
  writeGuardResponse,
  type AuthenticatedRequest,
  expressAuth,
  type ExpressLikeRequest,
  koaAuth,
  type KoaLikeContext,
} from './http/index.ts';
export {
  createPolicyClient,
  type PolicyClient,
  type PolicyClientStats,
  MAX_REVOCATION_POLL_MS,
  type PolicyClientOptions,
  PolicyClientError,
  type PolicyClientErrorCode,
  POLICY_BUNDLE_PATH,
  POLICY_BUNDLE_TYP,
  type Policy,
  REVOCATIONS_PATH,
  REVOCATIONS_TYP,
  type Caller,
  argumentsSha256,
} from './policy-client/index.ts';
export { createMcpProtection, type McpProtection, type McpProtectionOptions } from './protect.ts';
export {
  protectMcpServer,
  createToolProtection,
  type ProtectedMcpServer,
  type ProtectedToolConfig,
} from './mcp/protect.ts';
export { releaseJsonResponseStreams } from './mcp/sdk-json-response-leak.ts';
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
export { withToolPolicy, type RetryOptions, type ToolPolicyOptions } from './resilience/policy.ts';
