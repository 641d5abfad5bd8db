import * as querystring from 'node:querystring';
import type { Middleware } from 'koa';
import { AppError } from '../errors.ts';
import { answerOAuthError } from '../http/oauth-error.ts';
import { readAndPutBack } from '../http/request-body.ts';

/** oidc-provider's own limit for a request body (lib/shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;

/**
 * Rewrites every `resource` parameter (RFC 8707) of a request to an oidc-provider endpoint to the
 * known spelling of the resource it names, before oidc-provider reads it: clients may spell a
 * resource any way RFC 3986 §6.2.2 deems equivalent (`HTTP://LOCALHOST:4000/mcp`, a default port,
 * `%7E`), while oidc-provider compares identifiers byte for byte (code, grant and refresh token
 * resources, `resourceIndicators` hooks). Values that name no known resource pass unchanged, so
 * oidc-provider answers them with `invalid_target` as before.
 *
 * A urlencoded body is read here (within oidc-provider's size limit) and put back on the request
 * stream, rewritten when it named a resource in another spelling (its `Content-Length` with it), so
 * oidc-provider reads the body from the stream as it does without this middleware.
 *
 * @param paths The endpoints that take `resource`: authorization, PAR, token, backchannel.
 * @param resolve The known spelling of a value, or undefined (see `knownResource`).
 */
export function knownResourceParams(
  paths: string[],
  resolve: (value: string) => string | undefined,
): Middleware {
  const endpoints = new Set(paths);
  const rewrite = (params: querystring.ParsedUrlQuery): boolean => {
    const value = params.resource;
    if (value === undefined) return false;
    const values = ([] as string[]).concat(value);
    const known = values.map((v) => resolve(v) ?? v);
    if (known.every((v, i) => v === values[i])) return false;
    params.resource = Array.isArray(value) ? known : known[0];
    return true;
  };
  return async (ctx, next) => {
    if (!endpoints.has(ctx.path)) return next();
    if (ctx.querystring.includes('resource')) {
      const query = querystring.parse(ctx.querystring);
      if (rewrite(query)) ctx.querystring = querystring.stringify(query);
    }
    if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded') && ctx.req.readable) {
      const { req } = ctx;
      const declared = Number(req.headers['content-length'] ?? NaN);
      let read: Buffer | undefined;
      try {
        if (!(declared > BODY_LIMIT))
          read = await readAndPutBack(req, BODY_LIMIT, (body) => {
            const params = querystring.parse(body.toString('utf8'));
            if (!rewrite(params)) return body;
            const rewritten = Buffer.from(querystring.stringify(params));
            if (req.headers['content-length'] !== undefined)
              req.headers['content-length'] = String(rewritten.length);
            return rewritten;
          });
      } catch {
        // The client went away or broke the stream: answered below as an unreadable body.
      }
      if (read === undefined) {
        return answerOAuthError(
          ctx,
          new AppError('ERR_INVALID_REQUEST', 'failed to parse the request body'),
        );
      }
    }
    return next();
  };
}
