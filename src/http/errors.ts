import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { errors } from 'oidc-provider';
import { AppError } from '../errors.ts';
import { render } from './views.ts';
import { RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './unavailable.ts';

const PROBLEM = 'application/problem+json';

/** Whether a request is answered with RFC 9457 problem JSON (APIs) rather than an HTML page. */
function wantsJson(ctx: Context): boolean {
  return (
    ctx.path.startsWith('/admin/') ||
    ctx.path.startsWith('/audit/') ||
    ctx.path.startsWith('/api/') ||
    !ctx.accepts('html')
  );
}

/**
 * The one place where errors become responses. Domain errors keep their status and public
 * message; anything unknown is a bare 500 with no internal detail, logged with its request id.
 */
export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (err) {
      const e = err as Error & { status?: number; expose?: boolean; type?: string };
      let status = 500;
      let code = 'server_error';
      let detail = 'The server could not complete the request.';
      let extra: Record<string, unknown> | undefined;
      if (e instanceof AppError) {
        ({ status, code } = e);
        detail = e.message;
        extra = e.detail;
      } else if (e instanceof errors.OIDCProviderError && e.status < 500) {
        // Protocol errors thrown by oidc-provider helpers inside our routes (expired interaction …).
        status = e.status;
        code = e.error;
        detail = e.error_description ?? 'The request is not valid.';
      } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
        // koa/http-errors and body parser errors (413 too large, 400 malformed, 415 …).
        status = e.status;
        code = (e as { type?: string }).type ?? 'invalid_request';
        detail = e.message;
      } else if (isDatabaseUnavailable(e)) {
        status = 503;
        code = 'temporarily_unavailable';
        detail = 'The service is temporarily unavailable. Retry shortly.';
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        log.warn(
          { reqId: ctx.state.reqId, code: (e as { code?: string }).code },
          'database unavailable',
        );
      } else {
        log.error({ err: e, reqId: ctx.state.reqId }, 'unhandled error');
      }
      ctx.status = status;
      if (wantsJson(ctx)) {
        ctx.type = PROBLEM;
        ctx.body = {
          type: 'about:blank',
          title: statusTitle(status),
          status,
          detail,
          code,
          ...extra,
        };
      } else {
        ctx.type = 'html';
        ctx.body = render('error', { title: statusTitle(status), message: detail, code });
      }
    }
  };
}

function statusTitle(status: number): string {
  return (
    (
      {
        400: 'Bad Request',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'Not Found',
        405: 'Method Not Allowed',
        409: 'Conflict',
        413: 'Content Too Large',
        415: 'Unsupported Media Type',
        429: 'Too Many Requests',
        503: 'Service Unavailable',
      } as Record<number, string>
    )[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error')
  );
}
