import type { Middleware } from 'koa';

/**
 * What every page of the web session carries (ARCHITECTURE.md §6): nothing from elsewhere runs in,
 * frames, or caches it; forms post only to this site. `script-src` is `'self'` only where a page
 * needs a script file of this site (`scripts: true`, e.g. a passkey ceremony); never inline.
 */
export function pageHeaders(options: { scripts?: boolean } = {}): Middleware {
  const csp = [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    ...(options.scripts ? ["script-src 'self'", "connect-src 'self'"] : []),
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    await next();
  };
}
