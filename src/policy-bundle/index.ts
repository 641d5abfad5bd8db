/**
 * The signed policy bundle for verifiers (ARCHITECTURE.md §7.3) at `GET /policy/v1/bundle`.
 * @module
 */
import Router from '@koa/router';
import { PolicyBundleSigner, type PolicyBundleDeps } from './bundle.ts';

export { POLICY_BUNDLE_TYP, PolicyBundleSigner } from './bundle.ts';
export type { PolicyBundleDeps, SignedBundle } from './bundle.ts';

/** Path of the bundle endpoint. */
export const POLICY_BUNDLE_PATH = '/policy/v1/bundle';

/**
 * `GET /policy/v1/bundle`: the compact JWS as `application/jwt`, with an ETag; a matching
 * `If-None-Match` gets `304`. Public by choice: the bundle holds role and scope definitions but
 * no secrets, every verifier needs it before it has any token, and its signature (checked with
 * `/jwks`) — not access control — is what makes it trustworthy.
 */
export function createPolicyBundleRoutes(deps: PolicyBundleDeps): Router {
  const signer = new PolicyBundleSigner(deps);
  const router = new Router();
  router.get(POLICY_BUNDLE_PATH, async (ctx) => {
    const bundle = await signer.current();
    ctx.set('ETag', bundle.etag);
    // Caches may keep it but must revalidate: role changes should reach verifiers promptly.
    ctx.set('Cache-Control', 'no-cache');
    if (matches(ctx.get('if-none-match'), bundle.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/jwt';
    ctx.body = bundle.jws;
  });
  return router;
}

/**
 * RFC 9110 §13.1.2 If-None-Match with weak comparison. Not koa's `ctx.fresh`: that one ignores
 * validators whenever the request says `Cache-Control: no-cache`, which the Fetch standard adds
 * to every conditional `fetch()` — so a verifier using fetch would never get its 304.
 */
function matches(ifNoneMatch: string, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}
