import type { Catalogue } from '../../policy/index.ts';
import { definition, gatedScopes } from './scopes.ts';
import { DEFAULTS } from '../../config/defaults.ts';

/** No elevation lasts longer than this many seconds, whatever its scopes say. */
export const MAX_ELEVATION_SECONDS = 3600;
/** Seconds an approval ticket stays open when none of its scopes names a `ttl` (ARCHITECTURE.md §6). */
export const DEFAULT_TICKET_TTL = DEFAULTS.ticketTtlSeconds;
/** Seconds a granted elevation waits for its first token before it lapses unused. */
export const CLAIM_WINDOW_SECONDS = DEFAULTS.elevationClaimWindowSeconds;
/** Seconds a CIBA request that needs no approval may wait for its first poll. */
export const UNGATED_CIBA_REQUEST_TTL = DEFAULTS.backchannelRequestTtlSeconds;

/**
 * Lifetime of an elevation of `scopes`, in seconds. Rule: the shortest `expiresIn` among them,
 * never more than {@link MAX_ELEVATION_SECONDS}.
 */
export function elevationLifetime(catalogue: Catalogue, scopes: readonly string[]): number {
  return Math.min(
    ...scopes.map((s) => definition(catalogue, s)?.expiresIn ?? Infinity),
    MAX_ELEVATION_SECONDS,
  );
}

/**
 * Seconds a ticket for `scopes` stays open. Rule: the shortest approval `ttl` among them, else
 * {@link DEFAULT_TICKET_TTL}.
 */
export function ticketTtl(catalogue: Catalogue, scopes: readonly string[]): number {
  const ttls = scopes
    .map((s) => definition(catalogue, s)?.approval?.ttl)
    .filter((t): t is number => t !== undefined);
  return ttls.length ? Math.min(...ttls) : DEFAULT_TICKET_TTL;
}

/** When a ticket for `scopes` opened at `now` expires ({@link ticketTtl} later). */
export function ticketExpiry(catalogue: Catalogue, scopes: readonly string[], now: Date): Date {
  return new Date(now.getTime() + ticketTtl(catalogue, scopes) * 1000);
}

/** When an elevation granted at `now` lapses if no token claimed it ({@link CLAIM_WINDOW_SECONDS}). */
export function claimDeadline(now: Date): Date {
  return new Date(now.getTime() + CLAIM_WINDOW_SECONDS * 1000);
}

/**
 * Seconds a CIBA request for `scopes` lives. Rule: as long as the approval ticket it may open
 * ({@link ticketTtl} of its gated scopes); {@link UNGATED_CIBA_REQUEST_TTL} when it opens none.
 */
export function cibaRequestTtl(catalogue: Catalogue, scopes: readonly string[]): number {
  const gated = gatedScopes(catalogue, scopes);
  return gated.length ? ticketTtl(catalogue, gated) : UNGATED_CIBA_REQUEST_TTL;
}
