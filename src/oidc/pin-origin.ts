import type { Middleware } from 'koa';

/** An absolute-form request target (`GET http://host/path HTTP/1.1`, RFC 9112 §3.2.2). */
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\//i;

/**
 * Pins every request's origin to ISSUER's, so that each URL the server builds from the request —
 * oidc-provider's discovery, endpoints, interaction and resume URLs, redirects — derives from
 * ISSUER alone (ARCHITECTURE.md §5), never from a `Host`, `X-Forwarded-Host` or `X-Forwarded-Proto` header
 * nor an absolute-form request target an attacker may send. Rules:
 * - `protocol`, `host` and `hostname` of the request are ISSUER's (Koa computes `origin`, `href`
 *   and `secure` from them, so cookies are `Secure` exactly when ISSUER is https);
 * - an absolute-form target is reduced to its path and query.
 * `app.proxy` (TRUST_PROXY) then only decides whether the client address comes from
 * `X-Forwarded-For` (sign-in throttling, audit).
 *
 * @param issuer The configured ISSUER (an absolute http(s) URL).
 */
export function pinOrigin(issuer: string): Middleware {
  const { protocol, host, hostname } = new URL(issuer);
  const pinned = {
    protocol: { value: protocol.slice(0, -1), configurable: true },
    host: { value: host, configurable: true },
    hostname: { value: hostname, configurable: true },
  };
  return (ctx, next) => {
    if (ABSOLUTE_FORM.test(ctx.originalUrl)) {
      const target = new URL(ctx.originalUrl);
      ctx.url = `${target.pathname}${target.search}`;
      ctx.originalUrl = ctx.url;
      ctx.request.originalUrl = ctx.url;
    }
    Object.defineProperties(ctx.request, pinned);
    return next();
  };
}
