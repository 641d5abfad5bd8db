import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { redact } from './redact.ts';

/** Instrumentation scope name of the verifier's spans. */
export const TRACER_NAME = 'mcp-elevate/verifier';

/** What a tool span records. */
export interface ToolSpanInput {
  /** Tool name; the span is named `tool:<name>`. */
  tool: string;
  /** `mcp.user.id`: the caller's subject (or client id). */
  userId: string;
  /** `mcp.user.role`: the caller's primary role. */
  role: string;
  /** Tool arguments; recorded as `mcp.tool.params`, redacted, as JSON. */
  params: unknown;
}

/** Longest `mcp.tool.params` recorded; exporters and backends reject oversized attributes. */
const MAX_PARAMS_LENGTH = 4096;

/**
 * Runs `fn` inside an active span `tool:<name>` with the attributes of ARCHITECTURE.md §7.6. The span ends
 * when `fn` settles; its status is ERROR when `fn` throws (the exception is recorded) or resolves
 * to a tool result with `isError: true`.
 *
 * @param tracer Tracer to use. Default: `trace.getTracer('mcp-elevate/verifier')`, a no-op until
 *   the application registers an OpenTelemetry SDK.
 */
export async function traceToolCall<T>(
  input: ToolSpanInput,
  fn: (span: Span) => Promise<T>,
  tracer: Pick<Tracer, 'startSpan'> = trace.getTracer(TRACER_NAME),
): Promise<T> {
  const attributes: Attributes = {
    'mcp.tool.name': input.tool,
    'mcp.user.id': input.userId,
    'mcp.user.role': input.role,
  };
  const span = tracer.startSpan(`tool:${input.tool}`, { attributes });
  // Redacting and serialising the arguments is the costly part: only for a span that records.
  if (span.isRecording()) span.setAttribute('mcp.tool.params', paramsAttribute(input.params));
  try {
    // A span without a valid context (no OpenTelemetry SDK registered, no parent) has nothing to
    // propagate: making it active would only allocate a context per call.
    const result = await (trace.isSpanContextValid(span.spanContext())
      ? context.with(trace.setSpan(context.active(), span), () => fn(span))
      : fn(span));
    if (isErrorResult(result))
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool returned isError' });
    return result;
  } catch (error) {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

function paramsAttribute(params: unknown): string {
  const json = JSON.stringify(redact(params ?? {})) ?? '{}';
  return json.length > MAX_PARAMS_LENGTH ? `${json.slice(0, MAX_PARAMS_LENGTH)}…` : json;
}

function isErrorResult(result: unknown): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    (result as { isError?: unknown }).isError === true
  );
}
