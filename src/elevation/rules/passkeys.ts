import type { Catalogue } from '../../policy/index.ts';
import { DEFAULTS } from '../../config/defaults.ts';
import { definition } from './scopes.ts';

/** How long after its challenge was issued a passkey assertion still counts, in seconds. */
export const PASSKEY_ASSERTION_MAX_AGE_SECONDS = DEFAULTS.passkeyChallengeTtlSeconds;

/**
 * A verified passkey (WebAuthn) assertion, as the passkey service reports it: which passkey,
 * and what its single-use challenge was issued for. Never key material or the challenge itself.
 */
export interface PasskeyProof {
  /** Our id of the passkey used (not the authenticator's credential id). */
  passkeyId: string;
  /** The approver the challenge was issued to. */
  approverId: string;
  /** The ticket and the decision the challenge was issued for. */
  ticketId: string;
  decision: 'approve' | 'deny';
  /** When the challenge was issued. */
  issuedAt: Date;
  /** The authenticator verified the user (PIN, biometrics): WebAuthn's UV flag. */
  userVerified: boolean;
}

/**
 * How an approver authenticated for a decision. `amr` holds RFC 8176 values: the session's sign-in
 * (`pwd`, `fed`), then for a passkey `hwk` (device-bound) or `swk` (synced) and `user`.
 * `passkey` is present only after an assertion the passkey service verified.
 */
export interface ApproverAuthentication {
  amr: readonly string[];
  passkey?: PasskeyProof;
}

/** An in-process caller that states no authentication (tests, tools): never a passkey. */
export const NO_AUTHENTICATION: ApproverAuthentication = Object.freeze({ amr: [] });

/**
 * Whether approving `scope` needs a passkey. Rule: its catalogue entry says
 * `approval.requirePasskey`, or the server names it in `alsoRequired` (`ADMIN_REQUIRE_PASSKEY`
 * puts `mcp:admin` there). The one rule every page and the decision itself ask.
 */
export function passkeyRequired(
  catalogue: Catalogue,
  scope: string,
  alsoRequired: readonly string[] = [],
): boolean {
  return (
    definition(catalogue, scope)?.approval?.requirePasskey === true || alsoRequired.includes(scope)
  );
}

/** What a passkey proof is checked against: the decision being taken, and the clock. */
export interface PasskeyCheck {
  ticketId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  now: Date;
}

/**
 * Whether `auth` carries a passkey assertion good for this decision. Rules, all of them:
 * 1. a passkey proof is present, with user verification;
 * 2. its challenge was issued to this approver, for this ticket and this decision;
 * 3. it was issued at most {@link PASSKEY_ASSERTION_MAX_AGE_SECONDS} ago (and not in the future).
 * Single use is the passkey service's part: a challenge is consumed when an assertion is checked.
 */
export function passkeySatisfies(auth: ApproverAuthentication, check: PasskeyCheck): boolean {
  const p = auth.passkey;
  if (!p || !p.userVerified) return false;
  if (p.approverId !== check.approverId || p.ticketId !== check.ticketId) return false;
  if (p.decision !== check.decision) return false;
  const age = (check.now.getTime() - p.issuedAt.getTime()) / 1000;
  return age >= -5 && age <= PASSKEY_ASSERTION_MAX_AGE_SECONDS;
}
