/**
 * Tool-call errors and their JSON-RPC codes (ARCHITECTURE.md §7.5). Every failure of a protected tool call
 * leaves as a {@link ToolError}; its `message` is written for the client and never carries the
 * underlying error's text (kept as `cause` for logs and spans).
 */

/** The tool handler failed. */
export const EXECUTION_FAILED = -32000;
/** The tool handler did not finish within its timeout. */
export const TIMEOUT = -32001;
/** The caller may not make this call (denied, or step-up needed). */
export const UNAUTHORIZED = -32002;
/** The caller exceeded its rate limit for this tool. */
export const RATE_LIMITED = -32003;
/** A dependency of the tool is failing and its circuit breaker is open. */
export const DEPENDENCY_FAILED = -32004;

/** One of the five tool error codes. */
export type ToolErrorCode =
  | typeof EXECUTION_FAILED
  | typeof TIMEOUT
  | typeof UNAUTHORIZED
  | typeof RATE_LIMITED
  | typeof DEPENDENCY_FAILED;

/** `data` of a tool error's JSON-RPC error object. */
export interface ToolErrorData {
  /** Whether the same call may succeed if simply sent again. */
  retryable: boolean;
  /** How long to wait before retrying, in milliseconds. */
  retryAfterMs?: number;
  /** Human-readable hint for the caller (or the model driving it). */
  suggestedAction?: string;
}

/** The JSON-RPC error object (`error` member of a response). */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data: ToolErrorData;
}

/**
 * A tool-call failure with a JSON-RPC `code` and `data`. Tool handlers may throw one themselves:
 * its message is then shown to the client as is, and `data.retryable: true` makes an
 * idempotent tool eligible for retry.
 *
 * Thrown from a request handler of the MCP SDK's `Server`, the SDK answers with
 * `{ code, message, data }` read from this object; `mcp/protect.ts` makes sure it reaches there.
 */
export class ToolError extends Error {
  /** JSON-RPC error code. */
  readonly code: ToolErrorCode;
  /** JSON-RPC error data. */
  readonly data: ToolErrorData;

  constructor(code: ToolErrorCode, message: string, data: ToolErrorData, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ToolError';
    this.code = code;
    this.data = data;
  }

  /** Whether a retry policy may try the call again. */
  get retryable(): boolean {
    return this.data.retryable;
  }

  /** The JSON-RPC error object for this error. */
  toJsonRpcError(): JsonRpcErrorObject {
    return { code: this.code, message: this.message, data: { ...this.data } };
  }
}
