import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Largest JSON body the admin API reads (64 KiB); a larger one is refused with 413 before it is parsed. */
export const MAX_BODY_BYTES = DEFAULTS.adminMaxBodyBytes;

/** Maps the body parser's (co-body / raw-body) errors to problems with our own, fixed wording. */
function bodyProblem(err: unknown): AppError {
  const e = err as { status?: number; type?: string };
  if (e.status === 413 || e.type === 'entity.too.large') {
    return new AppError('ERR_BODY_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES / 1024} KiB`);
  }
  if (e.status === 415)
    return new AppError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      'request body encoding or charset is not supported',
    );
  // Parser messages quote the input; ours does not.
  return new AppError(
    'ERR_MALFORMED_JSON',
    'request body is not valid JSON (an object or array is expected)',
  );
}

const parseJson = bodyParser({
  enableTypes: ['json'],
  jsonLimit: MAX_BODY_BYTES,
  jsonStrict: true,
  onError(err) {
    throw bodyProblem(err);
  },
});

/**
 * Reads a JSON request body into `ctx.request.body` (left `undefined` when the request has none).
 * Rules: a body must be `application/json` or `application/*+json` (else 415), at most
 * {@link MAX_BODY_BYTES} (else 413), and well-formed JSON whose top level is an object or array
 * (else 400).
 */
export async function readJsonBody(ctx: Context, next: Next): Promise<void> {
  // No body at all, or an empty one (fetch sends `Content-Length: 0` on a bare POST): leave it to
  // the schema, which says whether one is required.
  if (ctx.get('content-length') === '0' || ctx.is('json', '+json') === null) return next();
  if (!ctx.is('json', '+json'))
    throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json');
  const declared = Number(ctx.get('content-length'));
  // Refuse early on a declared size, so a huge upload is not read at all.
  if (declared > MAX_BODY_BYTES) throw bodyProblem({ status: 413 });
  await parseJson(ctx, next);
}
