import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { AppError } from '../errors.ts';
import { DEFAULTS } from '../config/defaults.ts';

/**
 * Reads an `application/x-www-form-urlencoded` body into `ctx.request.body`, for every HTML form
 * of the site (sign-in, consent, account, approvals). Rules it enforces:
 * - at most `DEFAULTS.formMaxBodyBytes` (else 413), a charset and `Content-Encoding` the parser
 *   knows (else 415): the parser's own exposed 4xx errors pass through unchanged;
 * - any other failure to read the body (a gzip or deflate stream that is not one, a connection cut
 *   mid-body) is a 400 `ERR_INVALID_REQUEST` with a plain message, never a 5xx;
 * - other content types leave the body empty (`{}`), so the form's own checks (CSRF first) refuse it.
 */
export function formBody(): Middleware {
  return bodyParser({
    enableTypes: ['form'],
    formLimit: DEFAULTS.formMaxBodyBytes,
    onError(err) {
      const e = err as Error & { status?: number; expose?: boolean };
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) throw e;
      throw new AppError('ERR_INVALID_REQUEST', 'The form could not be read. Send it again.');
    },
  });
}
