import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import { allowedByGuard } from '../http/allowed-calls.ts';
import type { ToolCallDecision } from '../http/decide.ts';
import type { AuditDecision, AuditResult, AuditSink } from '../observability/audit-event.ts';
import type { ToolMetrics, ToolStatus } from '../observability/metrics.ts';
import { primaryRole, principalOf } from '../observability/principal.ts';
import type { Principal } from '../observability/principal.ts';
import { redact } from '../observability/redact.ts';
import { traceToolCall, TRACER_NAME } from '../observability/tracing.ts';
import type { BreakerRegistry } from '../resilience/breakers.ts';
import { EXECUTION_FAILED, ToolError } from '../resilience/errors.ts';
import { sharedBreakers, toolPolicy } from '../resilience/policy.ts';
import type { PolicyExtra, ToolPolicy } from '../resilience/policy.ts';
import { RateLimiter } from '../resilience/rate-limit.ts';
import { refusal, STATUS } from './outcome.ts';
import { reportToolFailure } from './sdk-hooks.ts';
import type { ProtectedToolOptions, ProtectOptions } from './types.ts';

/** What every protected tool of one protection shares, across its servers and sessions. */
export interface PipelineContext {
  decide: ProtectOptions['decide'];
  guardDecide: ProtectOptions['guardDecide'];
  metrics: ToolMetrics;
  tracer: Pick<Tracer, 'startSpan'>;
  audit?: AuditSink;
  breakers: BreakerRegistry;
  limiter: RateLimiter | false;
  defaults: NonNullable<ProtectOptions['defaults']>;
  /** Tool pipelines by tool and settings, so a server built per request reuses them. */
  tools: LRUCache<string, ToolPipeline>;
}

/**
 * What one tool with given settings keeps for all its calls, whatever the server or request:
 * built once by {@link toolPipeline}, then run per call by {@link runTool}.
 */
export interface ToolPipeline {
  readonly name: string;
  /** Rate limit, breaker, retry and timeout of this tool. */
  readonly policy: ToolPolicy;
  /** Whether audit events flush at once without an elevation (see `ProtectedToolOptions`). */
  readonly critical: boolean;
  /** The tool's `tool` metric label. */
  readonly label: string;
}

/** Most distinct tool settings whose pipelines are kept. */
const MAX_TOOLS = 1_000;

/** Builds what protected tools share; once per protection (see `createToolProtection`). */
export function createPipelineContext(
  options: ProtectOptions,
  metrics: ToolMetrics,
): PipelineContext {
  const rateLimit = options.rateLimit;
  return {
    decide: options.decide,
    guardDecide: options.guardDecide,
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
    tools: new LRUCache({ max: MAX_TOOLS }),
  };
}

/**
 * The pipeline of tool `name` with these settings: built on first use, then shared by every
 * server and call of this protection that uses the same settings.
 */
export function toolPipeline(
  ctx: PipelineContext,
  name: string,
  annotations: ToolAnnotations | undefined,
  options: ProtectedToolOptions,
): ToolPipeline {
  const timeoutMs = options.timeoutMs ?? ctx.defaults.timeoutMs;
  const retry = options.retry ?? ctx.defaults.retry;
  const critical = options.critical ?? annotations?.destructiveHint === true;
  const retryKey = retry === undefined ? '' : retry === false ? 'false' : JSON.stringify(retry);
  const key = `${name}\u0000${annotations?.idempotentHint}\u0000${annotations?.readOnlyHint}\u0000${options.dependency}\u0000${timeoutMs}\u0000${retryKey}\u0000${critical}`;
  let tool = ctx.tools.get(key);
  if (tool === undefined) {
    tool = {
      name,
      policy: toolPolicy({
        tool: name,
        annotations: {
          idempotentHint: annotations?.idempotentHint,
          readOnlyHint: annotations?.readOnlyHint,
        },
        dependency: options.dependency,
        timeoutMs,
        retry,
        breakers: ctx.breakers,
        rateLimiter: ctx.limiter,
      }),
      critical,
      label: ctx.metrics.toolLabel(name),
    };
    ctx.tools.set(key, tool);
  }
  return tool;
}

/** A tool callback normalised to `(args, extra)`; `args` is `{}` for tools without input. */
export type NormalisedCallback<E extends PolicyExtra> = (
  args: Record<string, unknown>,
  extra: E,
) => CallToolResult | Promise<CallToolResult>;

function audit(
  ctx: PipelineContext,
  tool: ToolPipeline,
  principal: Principal,
  args: Record<string, unknown>,
  result: AuditResult,
  decision?: AuditDecision,
): void {
  if (ctx.audit === undefined) return;
  try {
    ctx.audit.record({
      subject: principal.subject ?? principal.id,
      clientId: principal.clientId ?? '',
      tool: tool.name,
      params: redact(args),
      result,
      ...(principal.elevation !== undefined && { elevation: principal.elevation }),
      critical: tool.critical || principal.elevation !== undefined,
      ...(decision !== undefined && { decision }),
    });
  } catch {
    // A sink must not throw; if one does, the call's outcome still stands.
  }
}

/** The decision on a call allowed before it got here (the guard's), for `runTool`'s `decided`. */
export const ALLOW: ToolCallDecision = Object.freeze({ decision: 'allow' });

/** The call's decision: the guard's when it allowed this very call (`guardDecide`), else `decide`'s. */
async function authorize(
  ctx: PipelineContext,
  name: string,
  authInfo: AuthInfo | undefined,
  args: Record<string, unknown>,
): Promise<ToolCallDecision> {
  if (authInfo === undefined) return { decision: 'deny', reason: 'unauthenticated' };
  if (ctx.guardDecide !== undefined && allowedByGuard(authInfo, ctx.guardDecide, name, args))
    return ALLOW;
  try {
    return await ctx.decide(authInfo, { name, arguments: args });
  } catch {
    return { decision: 'deny', reason: 'authorization failed' };
  }
}

/**
 * Runs one call of `callback` in `tool`'s pipeline, outermost first: span `tool:<name>` and
 * metrics → authorization (`decide`) → rate limit → circuit breaker → retry → timeout →
 * `callback`, and one audit event. Failures leave as {@link ToolError}s, also reported to
 * `sdk-hooks.ts` (for the MCP SDK's request handler).
 * @param rawArgs the call's arguments; `undefined` is `{}` (a tool without input).
 * @param decided the decision already taken on this very call (same token, same arguments
 *   object), e.g. by the HTTP guard in front: it is counted and audited as if taken here.
 */
export async function runTool<E extends PolicyExtra>(
  ctx: PipelineContext,
  tool: ToolPipeline,
  callback: NormalisedCallback<E>,
  rawArgs: Record<string, unknown> | undefined,
  extra: E,
  decided?: ToolCallDecision,
): Promise<CallToolResult> {
  const args = rawArgs ?? {};
  const { metrics } = ctx;
  const principal = principalOf(extra.authInfo);
  const role = primaryRole(principal);
  const started = performance.now();
  metrics.activeRequests.inc();
  let status: ToolStatus = 'success';
  try {
    return await traceToolCall(
      { tool: tool.name, userId: principal.id, role, params: args },
      async () => {
        const decision = decided ?? (await authorize(ctx, tool.name, extra.authInfo, args));
        metrics.authDecisions.inc({ decision: decision.decision });
        if (decision.decision !== 'allow') {
          audit(ctx, tool, principal, args, 'denied', decision.decision);
          throw refusal(decision);
        }
        const result = await tool.policy.run(callback, args, extra);
        if (result.isError === true) status = 'error';
        audit(ctx, tool, principal, args, result.isError === true ? 'failure' : 'success', 'allow');
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
            `Tool ${tool.name} failed`,
            { retryable: false },
            { cause: error },
          );
    status = STATUS[failure.code];
    if (status !== 'denied') audit(ctx, tool, principal, args, 'failure', 'allow');
    reportToolFailure(failure);
    throw failure;
  } finally {
    metrics.toolDuration.observe({ tool: tool.label }, (performance.now() - started) / 1000);
    metrics.activeRequests.dec();
    metrics.toolRequests.inc({ tool: tool.label, status, user_role: role });
  }
}
