import * as querystring from 'node:querystring';
import type { Middleware } from 'koa';
import { AppError } from '../errors.ts';
import { answerOAuthError } from '../http/oauth-error.ts';

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
 * A urlencoded body is read here (within oidc-provider's size limit) and handed to oidc-provider as
 * an already read body, which it accepts in place of the stream.
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
      let body: string;
      try {
        body = await readBody(ctx.req);
      } catch {
        return answerOAuthError(
          ctx,
          new AppError('ERR_INVALID_REQUEST', 'failed to parse the request body'),
        );
      }
      const params = querystring.parse(body);
      (ctx.req as { body?: string }).body = rewrite(params) ? querystring.stringify(params) : body;
    }
    return next();
  };
}

async function readBody(
  req: NodeJS.ReadableStream & { headers: Record<string, unknown> },
): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > BODY_LIMIT) throw new Error('request entity too large');
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req) {
    received += (chunk as Buffer).length;
    if (received > BODY_LIMIT) throw new Error('request entity too large');
    chunks.push(chunk as Buffer);
  }
  if (!Number.isNaN(declared) && received !== declared)
    throw new Error('request size did not match content length');
  return Buffer.concat(chunks).toString('utf8');
}
