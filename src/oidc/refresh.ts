import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * Checks what can still fail in a refresh_token request once oidc-provider is about to rotate the
 * refresh token, so that a rejected refresh changes nothing (ARCHITECTURE.md §5): after rotation the old
 * token is consumed and the client's retry would trip reuse detection, revoking the whole grant.
 * Rules (each answered with `invalid_target`, as RFC 8707 §2.2 names it):
 * - at most one distinct `resource` value; the same value repeated counts once;
 * - the resource was granted to this refresh token;
 * - the resource is still known to this server (the catalogue may have changed since the grant).
 *
 * Called from the `rotateRefreshToken` hook: oidc-provider calls it after its own checks (token,
 * client, DPoP, account, `scope`) and immediately before it consumes the token.
 */
export function checkRefreshBeforeRotation(
  ctx: KoaContextWithOIDC,
  known: (resource: string) => boolean,
): void {
  const params = ctx.oidc.params as { resource?: string | string[] };
  if (params.resource === undefined) return;
  const values = [...new Set(([] as string[]).concat(params.resource))];
  if (values.length !== 1)
    throw new errors.InvalidTarget(
      'only one resource per request: a token is for exactly one MCP server',
    );
  const resource = values[0]!;
  const token = ctx.oidc.entities.RefreshToken as unknown as
    { resourceIndicators: Set<string> } | undefined;
  if (!token?.resourceIndicators.has(resource))
    throw new errors.InvalidTarget('the resource was not granted to this refresh token');
  if (!known(resource)) throw new errors.InvalidTarget('unknown resource');
  params.resource = resource;
}
