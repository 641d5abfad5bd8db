import type { Catalogue } from '../../policy/index.ts';
import { definition, elevatedScopes } from './scopes.ts';

/** A live elevation as the token rule reads it. */
export interface LiveElevation {
  id: string;
  scopes: readonly string[];
  /** Seconds a token of it may live at most. */
  lifetime: number;
  /** End of its window once its first token started it; null before. */
  expiresAt: Date | null;
}

/** Everything {@link bindToken} needs: plain data. */
export interface TokenBindingInput {
  catalogue: Catalogue;
  /** oidc-provider's token kind: `AccessToken` or `ClientCredentials`. */
  kind: string;
  /** The scopes the token is about to carry (base scopes included). */
  scopes: readonly string[];
  /** Whether the token is DPoP-bound (`cnf.jkt`). */
  dpopBound: boolean;
  /** Live elevations of the token's own grant, subject, client and resource, newest first. */
  live: readonly LiveElevation[];
}

/**
 * What a token may carry. `elevation`: the elevation it is bound to and the longest it may live
 * (`lifetime`, seconds from its `iat`); absent when it carries no elevated scope.
 */
export interface TokenBinding {
  scopes: string[];
  elevation?: { id: string; lifetime: number; expiresAt: Date | null };
}

/**
 * Which elevated scopes a token being minted keeps (ARCHITECTURE.md §6). Rules:
 * - base and other non-elevated scopes always stay;
 * - client_credentials never yields elevated scopes (agents elevate through CIBA);
 * - `dpop: true` scopes are kept only in DPoP-bound tokens;
 * - an elevated scope stays only while a live elevation covers it: the newest of those covering
 *   the most of what the token asks for; without one the token carries no elevated scope;
 * - the token lives at most the shortest `expiresIn` of the scopes it keeps, and never longer
 *   than the elevation's own lifetime ({@link tokenExpiry} adds the elevation's window).
 */
export function bindToken(input: TokenBindingInput): TokenBinding {
  const { catalogue, scopes } = input;
  const allElevated = elevatedScopes(catalogue, scopes);
  const keep = (allowed: ReadonlySet<string>) =>
    scopes.filter((s) => !allElevated.includes(s) || allowed.has(s));
  if (!allElevated.length) return { scopes: [...scopes] };
  if (input.kind === 'ClientCredentials') return { scopes: keep(new Set()) };
  const elevated = allElevated.filter((s) => !definition(catalogue, s)!.dpop || input.dpopBound);
  let best: LiveElevation | undefined;
  let bestCover = 0;
  for (const e of input.live) {
    const cover = elevated.filter((s) => e.scopes.includes(s)).length;
    if (cover > bestCover) [best, bestCover] = [e, cover];
  }
  if (!best) return { scopes: keep(new Set()) };
  const granted = new Set(elevated.filter((s) => best.scopes.includes(s)));
  const lifetime = Math.min(
    ...[...granted].map((s) => definition(catalogue, s)!.expiresIn ?? best.lifetime),
    best.lifetime,
  );
  return {
    scopes: keep(granted),
    elevation: { id: best.id, lifetime, expiresAt: best.expiresAt },
  };
}

/**
 * A bound token's `exp` (seconds since the epoch). Rule: `iat` plus its lifetime, but never past
 * the end of its elevation's window (`windowEnd`: the window a first token started, or starts now).
 */
export function tokenExpiry(iat: number, lifetime: number, windowEnd: Date): number {
  return Math.min(iat + lifetime, Math.floor(windowEnd.getTime() / 1000));
}

/**
 * The elevated scopes of a stored grant that no live elevation covers any more. Rule: a grant
 * keeps an elevated scope only while a live elevation of it covers the scope, so asking for it
 * again after its elevation ended goes through consent (and approval) again.
 */
export function staleGrantScopes(
  catalogue: Catalogue,
  scopes: readonly string[],
  live: ReadonlyArray<{ scopes: readonly string[] }>,
): string[] {
  const covered = new Set(live.flatMap((e) => e.scopes));
  return elevatedScopes(catalogue, scopes).filter((s) => !covered.has(s));
}
