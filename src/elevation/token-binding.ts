import type { Catalogue } from '../policy/index.ts';
import type { ElevationRepository } from './elevation-repository.ts';
import { bindToken, elevatedScopes, tokenExpiry } from './rules/index.ts';

/** A JWT access token being minted, as {@link bindMintingToken} reads it. */
export interface MintingToken {
  /** oidc-provider's token kind: `AccessToken` or `ClientCredentials`. */
  kind: string;
  /** The scopes it is about to carry (base scopes included). */
  scopes: string[];
  /** The oidc-provider grant it is minted under. */
  grantId?: string;
  subject?: string;
  clientId?: string;
  resource?: string;
  /** Issued at (seconds since the epoch); default now. */
  iat?: number;
  /** Whether it is DPoP-bound (`cnf.jkt`). */
  dpopBound: boolean;
}

/** What a token being minted carries: its scopes and, when elevated, its elevation and expiry. */
export interface BoundToken {
  scopes: string[];
  /** The elevation it is bound to, and its `exp` (seconds since the epoch). */
  elevation?: { id: string; exp: number };
}

/**
 * Binds a token being minted to a live elevation of its own grant, under the token rule
 * (`rules/token.ts`): loads the live elevations it may use, lets the rule choose, and starts the
 * chosen elevation's window at its first token (later tokens read it from the row at hand).
 */
export async function bindMintingToken(
  deps: { catalogue: Catalogue; elevations: ElevationRepository; now: () => Date },
  t: MintingToken,
): Promise<BoundToken> {
  const elevated = elevatedScopes(deps.catalogue, t.scopes).length > 0;
  // Only elevations issued under this token's own grant count (no grant: none).
  const live =
    elevated && t.kind !== 'ClientCredentials' && t.grantId && t.subject && t.clientId && t.resource
      ? await deps.elevations.live(t.subject, t.clientId, t.resource, t.grantId)
      : [];
  const bound = bindToken({
    catalogue: deps.catalogue,
    kind: t.kind,
    scopes: t.scopes,
    dpopBound: t.dpopBound,
    live: live.map((e) => ({
      id: e.id,
      scopes: e.scopes,
      lifetime: e.lifetime,
      expiresAt: e.expires_at,
    })),
  });
  if (!bound.elevation) return { scopes: bound.scopes };
  const { id, lifetime, expiresAt } = bound.elevation;
  const iat = t.iat ?? Math.floor(deps.now().getTime() / 1000);
  const windowEnd =
    expiresAt ?? (await deps.elevations.activate(id, new Date((iat + lifetime) * 1000)));
  return { scopes: bound.scopes, elevation: { id, exp: tokenExpiry(iat, lifetime, windowEnd) } };
}
