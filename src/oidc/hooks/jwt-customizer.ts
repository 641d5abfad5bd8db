/**
 * `formats.customizers.jwt(ctx, token, jwt)`: the last word on a JWT access token before it is
 * signed (ARCHITECTURE.md §5, §6). Rules:
 * - base scopes are part of every token: clients that replace their scope on a step-up challenge
 *   never lose their base access;
 * - elevated scopes are bound to a live elevation of the token's own grant, under the elevation
 *   service's token rule (`bindToken`): kept only while it covers them, DPoP-only scopes only in
 *   DPoP-bound tokens, never in client_credentials tokens; the token never outlives its
 *   elevation and names it in `elevation`;
 * - the token response's `scope` and `expires_in` read the same token fields, so they stay
 *   identical to the JWT's `scope` and `exp - iat`;
 * - `grant_id` names the grant the token was minted under: the server's own verifier checks it
 *   is still live.
 */
import type { Configuration } from 'oidc-provider';
import type { Catalogue } from '../../policy/index.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { scopeList } from '../../elevation/rules/index.ts';
import { withBaseScopes } from '../tokens.ts';

type JwtCustomizer = NonNullable<
  NonNullable<NonNullable<Configuration['formats']>['customizers']>['jwt']
>;

/** The JWT access token claims this customizer reads and writes. */
interface AccessTokenClaims {
  sub?: string;
  client_id?: string;
  aud?: string | string[];
  iat?: number;
  exp?: number;
  cnf?: { jkt?: string };
  scope?: string;
  elevation?: string;
  grant_id?: string;
}

export function jwtCustomizer(deps: {
  catalogue: Catalogue;
  elevation: ElevationService;
}): JwtCustomizer {
  return async (_ctx, token, jwt) => {
    const payload = jwt.payload as AccessTokenClaims;
    const grantId = (token as { grantId?: string }).grantId;
    const bound = await deps.elevation.bindToken({
      kind: token.kind,
      scopes: scopeList(withBaseScopes(deps.catalogue, token.scope)),
      grantId,
      subject: payload.sub,
      clientId: payload.client_id,
      resource: Array.isArray(payload.aud) ? payload.aud[0] : payload.aud,
      iat: payload.iat,
      dpopBound: Boolean(payload.cnf?.jkt),
    });
    if (bound.elevation) {
      payload.exp = bound.elevation.exp;
      payload.elevation = bound.elevation.id;
    }
    const scope = bound.scopes.join(' ');
    token.scope = scope;
    payload.scope = scope;
    if (grantId) payload.grant_id = grantId;
    // The token response's expires_in follows the (possibly shortened) JWT lifetime.
    if (payload.exp && payload.iat)
      (token as unknown as { expiresIn: number }).expiresIn = payload.exp - payload.iat;
  };
}
