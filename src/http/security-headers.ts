import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * The Content-Security-Policy of every page the server renders, its own views and
 * oidc-provider's (logout, error, form_post): no scripts but those oidc-provider hashes into
 * `script-src` for its auto-submitting forms, inline styles only (the views use `<style>` and
 * `style=""`), nothing loaded from elsewhere, never framed. `form-action` admits http(s) because a
 * sign-in or logout form ends in a redirect to the client's own URI. Pages with stricter needs
 * (the approval pages) set a narrower policy of their own.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'form-action': ["'self'", 'http:', 'https:'],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
};

/**
 * Security headers on every response, set once in front of every route, oidc-provider's
 * included (helmet's defaults, with `X-Frame-Options: DENY` and the policy above): framing,
 * MIME sniffing, referrers, cross-origin isolation, HSTS (ignored by browsers over plain http).
 */
export function securityHeaders(): Middleware {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    frameguard: { action: 'deny' },
  });
}
