import type { Catalogue } from '../../policy/index.ts';
import { definition, elevatedScopes, gatedScopes } from './scopes.ts';
import { DEFAULTS } from '../../config/defaults.ts';

/** Approval-gated scopes need a sign-in younger than this many seconds (ARCHITECTURE.md §6). */
export const FRESH_LOGIN_SECONDS = DEFAULTS.freshLoginSeconds;

/** Everything {@link gate} needs: plain data and the clock. */
export interface GateInput {
  catalogue: Catalogue;
  /** The scopes asked for (OIDC and base scopes are ignored). */
  scopes: readonly string[];
  /** When the user last signed in (seconds since the epoch); absent when no sign-in applies (CIBA). */
  authTime?: number;
  now: Date;
}

/**
 * How a request for scopes proceeds. `sign_in_again`: the user must sign in anew before an
 * approval-gated scope is even asked for (the interactive step-up); `auto_grant`: the elevation is
 * granted at once; `approval`: a ticket waits for the approvers of `groups`.
 */
export type Gate =
  | { outcome: 'not_elevated' }
  | { outcome: 'sign_in_again'; gated: string[] }
  | { outcome: 'auto_grant'; elevated: string[] }
  | { outcome: 'approval'; elevated: string[]; gated: string[]; groups: string[] };

/**
 * Gating of an elevation request (ARCHITECTURE.md §6). Rules, in order:
 * 1. no elevated scope (`minRole`) → `not_elevated`;
 * 2. an approval-gated scope with a sign-in older than {@link FRESH_LOGIN_SECONDS} → `sign_in_again`;
 * 3. no approval-gated scope → `auto_grant`;
 * 4. otherwise → `approval` by members of any group of any gated scope.
 * Eligibility is a separate rule (`firstIneligible`), checked first by the service.
 */
export function gate(input: GateInput): Gate {
  const elevated = elevatedScopes(input.catalogue, input.scopes);
  if (!elevated.length) return { outcome: 'not_elevated' };
  const gated = gatedScopes(input.catalogue, input.scopes);
  if (
    gated.length &&
    input.authTime !== undefined &&
    input.now.getTime() / 1000 - input.authTime > FRESH_LOGIN_SECONDS
  )
    return { outcome: 'sign_in_again', gated };
  if (!gated.length) return { outcome: 'auto_grant', elevated };
  return { outcome: 'approval', elevated, gated, groups: approverGroups(input.catalogue, gated) };
}

/** The groups whose members may approve any of `gated`, each once, in catalogue order. */
export function approverGroups(catalogue: Catalogue, gated: readonly string[]): string[] {
  return [...new Set(gated.flatMap((s) => definition(catalogue, s)?.approval?.groups ?? []))];
}
