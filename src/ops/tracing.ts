import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Context, Next } from 'koa';

/** Tracer name of the server's spans. */
export const TRACER = 'mcp-elevate';

/**
 * One server span per HTTP request (`HTTP <method> <route>`), with the semantic-convention
 * attributes. Spans are recorded only when an OpenTelemetry SDK is registered (for example with
 * `NODE_OPTIONS="--import @opentelemetry/auto-instrumentations-node/register"` and the standard
 * `OTEL_*` variables); otherwise the API is a no-op and costs next to nothing.
 */
export function tracingMiddleware() {
  const tracer = trace.getTracer(TRACER);
  return async (ctx: Context, next: Next) => {
    await tracer.startActiveSpan(
      `HTTP ${ctx.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path },
      },
      async (span: Span) => {
        try {
          await next();
        } finally {
          const route =
            (ctx as { _matchedRoute?: string })._matchedRoute ??
            (ctx as { oidc?: { route?: string } }).oidc?.route;
          if (route) {
            span.updateName(`HTTP ${ctx.method} ${route}`);
            span.setAttribute('http.route', String(route));
          }
          span.setAttribute('http.response.status_code', ctx.status);
          if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      },
    );
  };
}

/** Runs `fn` in a span named `name` (elevation requests, ticket decisions …). */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: () => Promise<T>,
): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: (err as { code?: string }).code ?? 'error',
      });
      throw err;
    } finally {
      span.end();
    }
  });
}
