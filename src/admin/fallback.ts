import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';

/** Name of the router layer that answers requests no admin route takes. */
export const ADMIN_FALLBACK = 'admin-fallback';

/**
 * Registers, last, a catch-all under the router's prefix that answers what no route took with
 * problem+json instead of letting it fall through to oidc-provider: rules, in order:
 * - `OPTIONS` on a known path → 204 with `Allow`;
 * - a known path with another method → 405 with `Allow`;
 * - anything else → 404.
 */
export function registerFallback(router: Router): void {
  const allowed = (ctx: Context) => {
    const layers = router.match(ctx.path, ctx.method).path.filter((l) => l.name !== ADMIN_FALLBACK);
    return [...new Set(layers.flatMap((l) => l.methods))];
  };
  router.all(ADMIN_FALLBACK, '{/*rest}', (ctx: Context) => {
    const methods = allowed(ctx);
    if (!methods.length)
      throw new AppError('ERR_NOT_FOUND', 'no admin API operation at this path (see openapi.json)');
    ctx.set('Allow', [...methods, 'OPTIONS'].join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new AppError('ERR_METHOD_NOT_ALLOWED', `method ${ctx.method} is not allowed here`, {
      allow: methods,
    });
  });
}
