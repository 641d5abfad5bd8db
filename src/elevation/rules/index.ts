/**
 * The elevation rules (ARCHITECTURE.md §6) as pure functions, shaped like the policy engine's `decide`:
 * plain data in, an outcome out, the clock passed in; no I/O. The elevation service loads the
 * data, calls these, and writes what they decide.
 * @module
 */
export { definition, elevatedScopes, gatedScopes, scopeList } from './scopes.ts';
export { firstIneligible, type EligibilityInput, type Ineligibility } from './eligibility.ts';
export { FRESH_LOGIN_SECONDS, approverGroups, gate, type Gate, type GateInput } from './gating.ts';
export {
  CLAIM_WINDOW_SECONDS,
  DEFAULT_TICKET_TTL,
  MAX_ELEVATION_SECONDS,
  UNGATED_CIBA_REQUEST_TTL,
  cibaRequestTtl,
  claimDeadline,
  elevationLifetime,
  ticketExpiry,
  ticketTtl,
} from './lifetime.ts';
export {
  bindToken,
  staleGrantScopes,
  tokenExpiry,
  type LiveElevation,
  type TokenBinding,
  type TokenBindingInput,
} from './token.ts';
export {
  NO_AUTHENTICATION,
  PASSKEY_ASSERTION_MAX_AGE_SECONDS,
  passkeyRequired,
  passkeySatisfies,
  type ApproverAuthentication,
  type PasskeyCheck,
  type PasskeyProof,
} from './passkeys.ts';
export {
  approvableScopes,
  decideTicket,
  ownTicket,
  quorumMet,
  ticketOpen,
  type RecordedDecision,
  type TicketDecision,
  type TicketDecisionInput,
  type TicketFacts,
} from './tickets.ts';
