import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { errors } from 'oidc-provider';
import { AppError } from '../errors.ts';
import { render } from './views.ts';
import { RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './unavailable.ts';
import {
  PROBLEM_TYPE,
  SERVER_ERROR,
  problemBody,
  problemOf,
  statusTitle,
  type Problem,
} from './problem.ts';

/** Whether a request is answered with RFC 9457 problem JSON (APIs) rather than an HTML page. */
function wantsJson(ctx: Context): boolean {
  return (
    ctx.path.startsWith('/admin/') ||
    ctx.path.startsWith('/audit/') ||
    ctx.path.startsWith('/api/') ||
    !ctx.accepts('html')
  );
}

const UNAVAILABLE = 'The service is temporarily unavailable. Retry shortly.';

/**
 * The problem for an error thrown inside a route, or undefined for anything unknown. Rules:
 * - our domain errors ({@link AppError}) answer as {@link HTTP_ERRORS} says, with their public
 *   message and detail;
 * - oidc-provider's protocol errors thrown by its helpers inside our routes (an expired
 *   interaction …) keep their status, OAuth `error` and public description;
 * - koa/http-errors and body parser errors that are exposed 4xx keep theirs (413, 400, 415 …);
 * - an unreachable database is a 503 (`ERR_TEMPORARILY_UNAVAILABLE`).
 */
function problemOfThrown(e: Error & { status?: number; expose?: boolean }): Problem | undefined {
  if (e instanceof AppError) return problemOf(e);
  if (e instanceof errors.OIDCProviderError && e.status < 500)
    return {
      status: e.status,
      code: e.error,
      detail: e.error_description ?? 'The request is not valid.',
    };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose)
    return {
      status: e.status,
      code: (e as { type?: string }).type ?? 'invalid_request',
      detail: e.message,
    };
  if (isDatabaseUnavailable(e))
    return problemOf(new AppError('ERR_TEMPORARILY_UNAVAILABLE', UNAVAILABLE));
  return undefined;
}

/**
 * The one place where errors thrown in our routes become responses: RFC 9457 problem JSON for the
 * APIs, the escaped error page for browsers. Anything unknown is a bare 500 `server_error` with
 * no internal detail, logged with its request id.
 */
export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (err) {
      const e = err as Error & { status?: number; expose?: boolean };
      const problem = problemOfThrown(e) ?? SERVER_ERROR;
      if (problem.code === 'temporarily_unavailable') {
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        log.warn(
          { reqId: ctx.state.reqId, code: (e as { code?: string }).code },
          'database unavailable',
        );
      } else if (problem === SERVER_ERROR) {
        log.error({ err: e, reqId: ctx.state.reqId }, 'unhandled error');
      }
      ctx.status = problem.status;
      if (wantsJson(ctx)) {
        ctx.type = PROBLEM_TYPE;
        ctx.body = problemBody(problem);
      } else {
        ctx.type = 'html';
        ctx.body = render('error', {
          title: statusTitle(problem.status),
          message: problem.detail,
          code: problem.code,
        });
      }
    }
  };
}
