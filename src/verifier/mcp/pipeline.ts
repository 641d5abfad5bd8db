import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import type { ToolCallDecision } from '../http/decide.ts';
import type { AuditDecision, AuditResult, AuditSink } from '../observability/audit-event.ts';
import type { ToolMetrics, ToolStatus } from '../observability/metrics.ts';
import { primaryRole, principalOf } from '../observability/principal.ts';
import type { Principal } from '../observability/principal.ts';
import { redact } from '../observability/redact.ts';
import { traceToolCall, TRACER_NAME } from '../observability/tracing.ts';
import type { BreakerRegistry } from '../resilience/breakers.ts';
import {
  DEPENDENCY_FAILED,
  EXECUTION_FAILED,
  RATE_LIMITED,
  TIMEOUT,
  ToolError,
  UNAUTHORIZED,
} from '../resilience/errors.ts';
import type { ToolErrorCode } from '../resilience/errors.ts';
import { sharedBreakers, withToolPolicy } from '../resilience/policy.ts';
import type { PolicyExtra } from '../resilience/policy.ts';
import { RateLimiter } from '../resilience/rate-limit.ts';
import { reportToolFailure } from './sdk-hooks.ts';
import type { ProtectedToolOptions, ProtectOptions } from './types.ts';

/** What every protected tool of one protection shares, across its servers and sessions. */
export interface PipelineContext {
  decide: ProtectOptions['decide'];
  metrics: ToolMetrics;
  tracer: Pick<Tracer, 'startSpan'>;
  audit?: AuditSink;
  breakers: BreakerRegistry;
  limiter: RateLimiter | false;
  defaults: NonNullable<ProtectOptions['defaults']>;
  /** Tool policies by tool and settings, so a server built per request reuses them. */
  policies: LRUCache<string, ToolPolicyWrapper>;
}

type ToolPolicyWrapper = ReturnType<typeof withToolPolicy>;

/** Most distinct tool settings whose policies are kept. */
const MAX_POLICIES = 1_000;

/** Builds what protected tools share; once per protection (see `createToolProtection`). */
export function createPipelineContext(
  options: ProtectOptions,
  metrics: ToolMetrics,
): PipelineContext {
  const rateLimit = options.rateLimit;
  return {
    decide: options.decide,
    metrics,
    // A ProxyTracer: it follows an OpenTelemetry SDK registered later on.
    tracer: options.tracer ?? trace.getTracer(TRACER_NAME),
    audit: options.audit,
    breakers: options.breakers ?? sharedBreakers,
    limiter:
      rateLimit === false
        ? false
        : rateLimit instanceof RateLimiter
          ? rateLimit
          : new RateLimiter(rateLimit ?? {}),
    defaults: options.defaults ?? {},
    policies: new LRUCache({ max: MAX_POLICIES }),
  };
}

/** The policy of one tool with these settings: built on first use, then shared. */
function policyFor(
  ctx: PipelineContext,
  name: string,
  annotations: ToolAnnotations | undefined,
  options: ProtectedToolOptions,
): ToolPolicyWrapper {
  const settings = {
    tool: name,
    annotations: {
      idempotentHint: annotations?.idempotentHint,
      readOnlyHint: annotations?.readOnlyHint,
    },
    dependency: options.dependency,
    timeoutMs: options.timeoutMs ?? ctx.defaults.timeoutMs,
    retry: options.retry ?? ctx.defaults.retry,
  };
  const key = JSON.stringify(settings);
  let policy = ctx.policies.get(key);
  if (policy === undefined) {
    policy = withToolPolicy({ ...settings, breakers: ctx.breakers, rateLimiter: ctx.limiter });
    ctx.policies.set(key, policy);
  }
  return policy;
}

/** A tool callback normalised to `(args, extra)`; `args` is `{}` for tools without input. */
export type NormalisedCallback<E extends PolicyExtra> = (
  args: Record<string, unknown>,
  extra: E,
) => CallToolResult | Promise<CallToolResult>;

const STATUS: Record<ToolErrorCode, ToolStatus> = {
  [EXECUTION_FAILED]: 'error',
  [TIMEOUT]: 'timeout',
  [UNAUTHORIZED]: 'denied',
  [RATE_LIMITED]: 'rate_limited',
  [DEPENDENCY_FAILED]: 'unavailable',
};

/** Turns a decision other than `allow` into the -32002 error the caller receives. */
function refusal(decision: Exclude<ToolCallDecision, { decision: 'allow' }>): ToolError {
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

/**
 * Wraps `callback` in the protection pipeline, outermost first: span `tool:<name>` and metrics →
 * authorization (`decide`) → rate limit → circuit breaker → retry → timeout → handler, and one
 * audit event per call. Failures leave as {@link ToolError}s reported to `sdk-hooks.ts`.
 */
export function protectCallback<E extends PolicyExtra>(
  ctx: PipelineContext,
  name: string,
  annotations: ToolAnnotations | undefined,
  options: ProtectedToolOptions,
  callback: NormalisedCallback<E>,
): (args: Record<string, unknown> | undefined, extra: E) => Promise<CallToolResult> {
  const guarded = policyFor(ctx, name, annotations, options)(callback);
  const criticalTool = options.critical ?? annotations?.destructiveHint === true;

  const audit = (
    principal: Principal,
    args: Record<string, unknown>,
    result: AuditResult,
    decision?: AuditDecision,
  ): void => {
    if (ctx.audit === undefined) return;
    try {
      ctx.audit.record({
        subject: principal.subject ?? principal.id,
        clientId: principal.clientId ?? '',
        tool: name,
        params: redact(args),
        result,
        ...(principal.elevation !== undefined && { elevation: principal.elevation }),
        critical: criticalTool || principal.elevation !== undefined,
        ...(decision !== undefined && { decision }),
      });
    } catch {
      // A sink must not throw; if one does, the call's outcome still stands.
    }
  };

  const authorize = async (
    authInfo: AuthInfo | undefined,
    args: Record<string, unknown>,
  ): Promise<ToolCallDecision> => {
    if (authInfo === undefined) return { decision: 'deny', reason: 'unauthenticated' };
    try {
      return await ctx.decide(authInfo, { name, arguments: args });
    } catch {
      return { decision: 'deny', reason: 'authorization failed' };
    }
  };

  return async (rawArgs, extra) => {
    const args = rawArgs ?? {};
    const principal = principalOf(extra.authInfo);
    const role = primaryRole(principal);
    const tool = ctx.metrics.toolLabel(name);
    const stopTimer = ctx.metrics.toolDuration.startTimer({ tool });
    ctx.metrics.activeRequests.inc();
    let status: ToolStatus = 'success';
    try {
      return await traceToolCall(
        { tool: name, userId: principal.id, role, params: args },
        async () => {
          const decision = await authorize(extra.authInfo, args);
          ctx.metrics.authDecisions.inc({ decision: decision.decision });
          if (decision.decision !== 'allow') {
            audit(principal, args, 'denied', decision.decision);
            throw refusal(decision);
          }
          const result = await guarded(args, extra);
          if (result.isError === true) status = 'error';
          audit(principal, args, result.isError === true ? 'failure' : 'success', 'allow');
          return result;
        },
        ctx.tracer,
      );
    } catch (error) {
      const failure =
        error instanceof ToolError
          ? error
          : new ToolError(
              EXECUTION_FAILED,
              `Tool ${name} failed`,
              { retryable: false },
              { cause: error },
            );
      status = STATUS[failure.code];
      if (status !== 'denied') audit(principal, args, 'failure', 'allow');
      reportToolFailure(failure);
      throw failure;
    } finally {
      stopTimer();
      ctx.metrics.activeRequests.dec();
      ctx.metrics.toolRequests.inc({ tool, status, user_role: role });
    }
  };
}
