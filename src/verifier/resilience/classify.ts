import { isBrokenCircuitError, TaskCancelledError } from 'cockatiel';

/**
 * Which errors a retry may help with, and which ones say nothing about a dependency's health.
 *
 * Rules:
 * - an explicit `retryable` flag (own property, or `data.retryable` of a `ToolError`) wins;
 * - validation errors (a ZodError, an error named `ValidationError`, JSON-RPC -32602 invalid
 *   params) are never retried and never trip a breaker: the same input fails the same way;
 * - network-ish errors (connection reset/refused, DNS, socket timeouts, undici failures) and
 *   timeouts are retryable;
 * - an open circuit is not retried: the breaker already knows the answer;
 * - anything else is not retried, because retrying an unknown failure can repeat a side effect.
 */

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** JSON-RPC "Invalid params", what the MCP SDK throws for arguments that fail the input schema. */
const INVALID_PARAMS = -32602;

/**
 * True for cockatiel's timeout/cancellation error. Not cockatiel's own `isTaskCancelledError`:
 * in 3.2.1 it tests for `isBulkheadRejectedError` and so never recognises a timeout.
 */
export function isTaskCancelled(error: unknown): error is TaskCancelledError {
  return error instanceof TaskCancelledError;
}

/** True when `error` stems from invalid input: retrying or blaming a dependency is pointless. */
export function isValidationError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'ZodError' ||
    error.name === 'ValidationError' ||
    (error as { code?: unknown }).code === INVALID_PARAMS
  );
}

/** True for transport-level failures (the error itself or its `cause`). */
export function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    // undici's fetch reports every transport failure as TypeError('fetch failed') with a cause.
    if (e instanceof TypeError && e.message === 'fetch failed') return true;
  }
  return false;
}

function explicitFlag(error: Error): boolean | undefined {
  const own = (error as { retryable?: unknown }).retryable;
  if (typeof own === 'boolean') return own;
  const data = (error as { data?: { retryable?: unknown } }).data;
  return typeof data?.retryable === 'boolean' ? data.retryable : undefined;
}

/** True when trying the same call again may succeed (see the module's rules). */
export function isRetryableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isBrokenCircuitError(error)) return false;
  const flag = explicitFlag(error);
  if (flag !== undefined) return flag;
  if (isValidationError(error)) return false;
  return isTaskCancelled(error) || isNetworkError(error);
}

/** True when `error` should count against a dependency's circuit breaker. */
export function isDependencyFailure(error: unknown): boolean {
  return !isValidationError(error) && !isBrokenCircuitError(error);
}
