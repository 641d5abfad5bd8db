import type { Catalogue } from '../policy/index.ts';
import type { ElevationRepository } from './elevations.ts';

/** The mutable parts of a JWT access token while it is being minted. */
export interface MintingToken {
  kind: string;
  scope: string;
  /** The oidc-provider grant the token is minted under. */
  grantId?: string;
  payload: {
    sub?: string;
    client_id?: string;
    aud?: string | string[];
    iat?: number;
    exp?: number;
    cnf?: { jkt?: string };
    elevation?: string;
  };
}

/**
 * Binds elevated scopes in a token being minted to a live elevation. Rules:
 * - an elevated scope is kept only while a live (not revoked, not expired) elevation of the same
 *   grant, subject, client and resource covers it — so no refresh ever yields an elevated scope after
 *   its elevation ended; the token then carries base scopes only;
 * - client_credentials never yields elevated scopes (agents elevate through CIBA);
 * - the token never outlives its elevation; the elevation's window starts at its first token;
 * - `dpop: true` scopes are kept only in DPoP-bound tokens (`cnf.jkt`).
 * Returns the scope to issue.
 */
export async function bindElevation(
  catalogue: Catalogue,
  elevations: ElevationRepository,
  t: MintingToken,
): Promise<string> {
  const scopes = t.scope.split(' ').filter(Boolean);
  const allElevated = scopes.filter((s) => catalogue.scopes[s]?.minRole !== undefined);
  // Base scopes always stay; an elevated scope stays only when `allowed` names it.
  const keep = (allowed: Set<string>) =>
    scopes.filter((s) => !allElevated.includes(s) || allowed.has(s));
  if (!allElevated.length) return scopes.join(' ');
  if (t.kind === 'ClientCredentials') return keep(new Set()).join(' ');
  const elevated = allElevated.filter((s) => !catalogue.scopes[s]!.dpop || t.payload.cnf?.jkt);

  const resource = Array.isArray(t.payload.aud) ? t.payload.aud[0] : t.payload.aud;
  // Only elevations issued under this token's own grant count (no grant: none).
  const live =
    t.grantId && t.payload.sub && t.payload.client_id && resource
      ? await elevations.live(t.payload.sub, t.payload.client_id, resource, t.grantId)
      : [];
  // The newest elevation covering the most of what the token asks for.
  let best: (typeof live)[number] | undefined;
  let bestCover = 0;
  for (const e of live) {
    const cover = elevated.filter((s) => e.scopes.includes(s)).length;
    if (cover > bestCover) [best, bestCover] = [e, cover];
  }
  if (!best) return keep(new Set()).join(' ');
  const granted = new Set(elevated.filter((s) => best.scopes.includes(s)));
  const lifetime = Math.min(
    ...[...granted].map((s) => catalogue.scopes[s]!.expiresIn ?? best.lifetime),
    best.lifetime,
  );
  const iat = t.payload.iat ?? Math.floor(Date.now() / 1000);
  const wanted = new Date((iat + lifetime) * 1000);
  // The window starts at the first token; later tokens read it from the row already at hand.
  const expiresAt = Math.floor(
    (best.expires_at ?? (await elevations.activate(best.id, wanted))).getTime() / 1000,
  );
  t.payload.exp = Math.min(iat + lifetime, expiresAt);
  t.payload.elevation = best.id;
  return keep(granted).join(' ');
}
