import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { ExponentialBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import type { CircuitBreakerPolicy, RetryPolicy } from 'cockatiel';
import { principalOf } from '../observability/principal.ts';
import { attemptWithTimeout } from './attempt-timeout.ts';
import { BreakerRegistry } from './breakers.ts';
import { isRetryableError, isTaskCancelled, isValidationError } from './classify.ts';
import { DEPENDENCY_FAILED, EXECUTION_FAILED, RATE_LIMITED, TIMEOUT, ToolError } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';

/** Retry settings; retries happen only for idempotent or read-only tools. */
export interface RetryOptions {
  /** Total attempts, the first one included. Default: `3`. */
  maxAttempts?: number;
  /** Base delay of the exponential backoff (decorrelated jitter), in ms. Default: `100`. */
  initialDelayMs?: number;
  /** Longest delay between attempts, in ms. Default: `2_000`. */
  maxDelayMs?: number;
}

/** Options of {@link withToolPolicy}. */
export interface ToolPolicyOptions {
  /** Tool name: part of the rate-limit key, used in messages. */
  tool: string;
  /**
   * The tool's MCP annotations. Retries are enabled only by `idempotentHint: true` or
   * `readOnlyHint: true`: re-running anything else could repeat a side effect.
   */
  annotations?: ToolAnnotations;
  /** Name of the dependency whose circuit breaker guards the tool. Default: the tool name. */
  dependency?: string;
  /**
   * Timeout of one attempt, in ms. Default: `30_000`. The timeout is aggressive: the call is
   * abandoned when it expires, and the handler's `extra.signal` is aborted so it can stop work.
   */
  timeoutMs?: number;
  /** Retry settings, or `false` for none. Default: `{}` (the defaults of {@link RetryOptions}). */
  retry?: RetryOptions | false;
  /** Breakers to use. Default: {@link sharedBreakers}, shared by every tool in the process. */
  breakers?: BreakerRegistry;
  /**
   * Rate limiter keyed by principal and tool (see {@link rateLimitKey}), or `false` for none.
   * Default: a new limiter with the defaults of `RateLimiterOptions` (60 calls a minute per
   * principal); pass one shared limiter to share budgets between tools, servers and sessions.
   */
  rateLimiter?: RateLimiter | false;
  /** Which errors are worth retrying. Default: `isRetryableError`. */
  isRetryable?: (error: Error) => boolean;
}

/** The part of the MCP SDK's `RequestHandlerExtra` the policy uses. */
export interface PolicyExtra {
  signal: AbortSignal;
  authInfo?: AuthInfo;
}

/** A tool handler in the shape the policy wraps: arguments plus the request's extra. */
export type PolicyHandler<A, R, E extends PolicyExtra> = (args: A, extra: E) => R | Promise<R>;

/**
 * The rate-limit key of a call: the principal (subject and client: one user through two agents
 * has two budgets, and so has one agent acting for two users) and the tool. Independent of the MCP
 * session, so a new `initialize` with the same token does not get a fresh budget.
 */
export function rateLimitKey(authInfo: AuthInfo | undefined, tool: string): string {
  const principal = principalOf(authInfo);
  return `${principal.subject ?? ''}\u0000${principal.clientId ?? ''}\u0000${tool}`;
}

/** Breakers used when no registry is passed, so tools naming one dependency share a breaker. */
export const sharedBreakers = new BreakerRegistry();

/** One tool's policy; `run` applies it to one call of `handler` (see {@link withToolPolicy}). */
export interface ToolPolicy {
  run<A, R, E extends PolicyExtra>(handler: PolicyHandler<A, R, E>, args: A, extra: E): Promise<R>;
}

/**
 * Builds the policy {@link withToolPolicy} applies, once per tool and settings: the handler is
 * passed per call, so callers that have a new handler for every call (the gateway) share it.
 */
export function toolPolicy(options: ToolPolicyOptions): ToolPolicy {
  const { tool } = options;
  const dependency = options.dependency ?? tool;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const breakers = options.breakers ?? sharedBreakers;
  const limiter = options.rateLimiter === undefined ? new RateLimiter() : options.rateLimiter;
  const idempotent =
    options.annotations?.idempotentHint === true || options.annotations?.readOnlyHint === true;
  const isRetryable = options.isRetryable ?? isRetryableError;

  const retryPolicy: RetryPolicy | undefined =
    idempotent && options.retry !== false
      ? retry(handleWhen(isRetryable), {
          maxAttempts: Math.max(0, (options.retry?.maxAttempts ?? 3) - 1),
          backoff: new ExponentialBackoff({
            initialDelay: options.retry?.initialDelayMs ?? 100,
            maxDelay: options.retry?.maxDelayMs ?? 2_000,
          }),
        })
      : undefined;
  const breaker: CircuitBreakerPolicy = breakers.get(dependency);

  const toToolError = (error: unknown, cancelled: boolean): ToolError => {
    if (error instanceof ToolError) return error;
    if (isBrokenCircuitError(error)) {
      return new ToolError(
        DEPENDENCY_FAILED,
        `A dependency of ${tool} is unavailable`,
        {
          retryable: true,
          retryAfterMs: breakers.retryAfterMs(dependency),
          suggestedAction:
            'Retry after retryAfterMs; the dependency is failing and calls to it are paused.',
        },
        { cause: error },
      );
    }
    if (isTaskCancelled(error) && !cancelled) {
      return new ToolError(
        TIMEOUT,
        `Tool ${tool} timed out after ${timeoutMs} ms`,
        {
          retryable: idempotent,
          suggestedAction: idempotent
            ? 'Retry later.'
            : 'The operation may still have taken effect: check its outcome before retrying.',
        },
        { cause: error },
      );
    }
    const invalid = isValidationError(error);
    return new ToolError(
      EXECUTION_FAILED,
      cancelled ? `Tool ${tool} was cancelled` : `Tool ${tool} failed`,
      {
        retryable: idempotent && !cancelled && error instanceof Error && isRetryable(error),
        ...(invalid && { suggestedAction: 'Check the arguments; the same call will fail again.' }),
      },
      { cause: error },
    );
  };

  return {
    async run(handler, args, extra) {
      if (limiter) {
        const verdict = await limiter.consume(rateLimitKey(extra.authInfo, tool));
        if (!verdict.allowed) {
          throw new ToolError(RATE_LIMITED, `Rate limit exceeded for ${tool}`, {
            retryable: true,
            retryAfterMs: verdict.retryAfterMs,
            suggestedAction: 'Wait retryAfterMs before calling this tool again.',
          });
        }
      }
      // Every attempt passes the breaker (so it counts towards it), then runs under its own
      // timeout; the handler gets the attempt's signal, aborted on timeout and when the client
      // cancels.
      const attempt = (signal: AbortSignal) =>
        breaker.execute(
          ({ signal: inner }) =>
            attemptWithTimeout((s) => handler(args, { ...extra, signal: s }), inner, timeoutMs),
          signal,
        );
      try {
        return await (retryPolicy === undefined
          ? attempt(extra.signal)
          : retryPolicy.execute(({ signal }) => attempt(signal), extra.signal));
      } catch (error) {
        throw toToolError(error, extra.signal.aborted);
      }
    },
  };
}

/**
 * Returns a wrapper that runs a tool handler under: a rate limit per principal and tool (-32003),
 * then the dependency's circuit breaker (-32004 while open, without calling the handler), retry
 * with exponential backoff and jitter for retryable errors of idempotent tools, and a timeout per
 * attempt (-32001). Any other failure becomes -32000. The wrapped handler only ever rejects with a
 * {@link ToolError}.
 *
 * The retry policy is outermost so every attempt passes the breaker and counts towards it.
 */
export function withToolPolicy(
  options: ToolPolicyOptions,
): <A, R, E extends PolicyExtra>(
  handler: PolicyHandler<A, R, E>,
) => (args: A, extra: E) => Promise<R> {
  const policy = toolPolicy(options);
  return (handler) => (args, extra) => policy.run(handler, args, extra);
}
