import type { ToolCallDecision } from '../http/decide.ts';
import type { ToolStatus } from '../observability/metrics.ts';
import {
  DEPENDENCY_FAILED,
  EXECUTION_FAILED,
  RATE_LIMITED,
  TIMEOUT,
  ToolError,
  UNAUTHORIZED,
} from '../resilience/errors.ts';
import type { ToolErrorCode } from '../resilience/errors.ts';

/** The `status` label of `mcp_tool_requests_total` for each failure code. */
export const STATUS: Record<ToolErrorCode, ToolStatus> = {
  [EXECUTION_FAILED]: 'error',
  [TIMEOUT]: 'timeout',
  [UNAUTHORIZED]: 'denied',
  [RATE_LIMITED]: 'rate_limited',
  [DEPENDENCY_FAILED]: 'unavailable',
};

/** Turns a decision other than `allow` into the -32002 error the caller receives. */
export function refusal(decision: Exclude<ToolCallDecision, { decision: 'allow' }>): ToolError {
  if (decision.decision === 'step_up') {
    return new ToolError(UNAUTHORIZED, 'This call needs an elevated token', {
      retryable: false,
      suggestedAction: `Request step-up authorization for scope(s): ${decision.scopes.join(' ')}`,
    });
  }
  return new ToolError(UNAUTHORIZED, 'This call is not permitted', {
    retryable: false,
    ...(decision.requiredRole !== undefined && {
      suggestedAction: `Requires role ${decision.requiredRole}`,
    }),
  });
}
