import type { Catalogue } from '../../policy/index.ts';
import { definition, gatedScopes } from './scopes.ts';
import { passkeyRequired, passkeySatisfies, type ApproverAuthentication } from './passkeys.ts';

/** A ticket as the ticket rules read it. */
export interface TicketFacts {
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  /** The user who asked (null: an agent acting on its own behalf). */
  requesterId: string | null;
  /** Whom the elevation is for. */
  subject: string;
  scopes: readonly string[];
  expiresAt: Date;
}

/** One decision already recorded on a ticket. */
export interface RecordedDecision {
  approverId: string;
  decision: 'approve' | 'deny';
  /** The scopes it was made for (those the approver's groups may approve). */
  scopes: readonly string[];
}

/** Whether the ticket can still be decided at `now`: pending and inside its window. */
export function ticketOpen(ticket: Pick<TicketFacts, 'status' | 'expiresAt'>, now: Date): boolean {
  return ticket.status === 'pending' && ticket.expiresAt.getTime() > now.getTime();
}

/** Whether `userId` is the requester of the ticket or the user it is for. */
export const ownTicket = (ticket: Pick<TicketFacts, 'requesterId' | 'subject'>, userId: string) =>
  userId === ticket.requesterId || userId === ticket.subject;

/**
 * The gated scopes of a ticket that a member of `groups` may approve (empty: not an approver).
 * Rule: a scope's approvers are the members of any of its approval groups.
 */
export function approvableScopes(
  catalogue: Catalogue,
  scopes: readonly string[],
  groups: readonly string[],
): string[] {
  return gatedScopes(catalogue, scopes).filter((s) =>
    definition(catalogue, s)!.approval!.groups.some((g) => groups.includes(g)),
  );
}

/**
 * Quorum (ARCHITECTURE.md §6). Rule: every gated scope of the ticket has at least its `quorum` distinct
 * approvers among the approvals made for it; denials do not count.
 */
export function quorumMet(
  catalogue: Catalogue,
  scopes: readonly string[],
  decisions: readonly RecordedDecision[],
): boolean {
  const approvals = decisions.filter((d) => d.decision === 'approve');
  return gatedScopes(catalogue, scopes).every(
    (s) =>
      new Set(approvals.filter((a) => a.scopes.includes(s)).map((a) => a.approverId)).size >=
      definition(catalogue, s)!.approval!.quorum,
  );
}

/** Everything {@link decideTicket} needs: plain data and the clock. */
export interface TicketDecisionInput {
  catalogue: Catalogue;
  ticket: TicketFacts;
  approverId: string;
  /** The approver's groups. */
  approverGroups: readonly string[];
  /** Decisions recorded on the ticket so far. */
  decisions: readonly RecordedDecision[];
  decision: 'approve' | 'deny';
  now: Date;
  /** The ticket's id, which a passkey assertion must be bound to. */
  ticketId?: string;
  /** How the approver authenticated. Default: no passkey. */
  authentication?: ApproverAuthentication;
  /** Scopes needing a passkey beyond the catalogue's `requirePasskey` (`ADMIN_REQUIRE_PASSKEY`). */
  passkeyScopes?: readonly string[];
}

/**
 * The outcome of one approver's decision. `refused`: nothing is recorded; `expired`: nothing is
 * recorded and the ticket closes as expired; `recorded`: the decision is recorded for `scopes` and
 * the ticket moves to `status`.
 */
export type TicketDecision =
  | {
      outcome: 'refused';
      reason:
        | 'ticket_closed'
        | 'self_approval'
        | 'not_an_approver'
        | 'already_decided'
        | 'passkey_required';
    }
  | { outcome: 'expired' }
  | { outcome: 'recorded'; scopes: string[]; status: 'pending' | 'approved' | 'denied' };

/**
 * One approver's decision on a ticket (ARCHITECTURE.md §6). Rules, in order:
 * 1. only a pending ticket can be decided (`ticket_closed`);
 * 2. never by its requester or the user it is for (`self_approval`);
 * 3. past its expiry it closes as expired, whatever the decision;
 * 4. only by a member of an approval group of one of its gated scopes (`not_an_approver`);
 * 5. once per approver (`already_decided`);
 * 6. one deny denies (a passkey is never needed to say no);
 * 7. an approval covering a scope that needs a passkey ({@link passkeyRequired}) needs a passkey
 *    assertion bound to this ticket, this decision and this approver, fresh
 *    ({@link passkeySatisfies}) (`passkey_required`);
 * 8. an approval approves once {@link quorumMet}, else the ticket stays pending.
 */
export function decideTicket(input: TicketDecisionInput): TicketDecision {
  const { catalogue, ticket, approverId } = input;
  if (ticket.status !== 'pending') return { outcome: 'refused', reason: 'ticket_closed' };
  if (ownTicket(ticket, approverId)) return { outcome: 'refused', reason: 'self_approval' };
  if (!ticketOpen(ticket, input.now)) return { outcome: 'expired' };
  const scopes = approvableScopes(catalogue, ticket.scopes, input.approverGroups);
  if (!scopes.length) return { outcome: 'refused', reason: 'not_an_approver' };
  if (input.decisions.some((d) => d.approverId === approverId))
    return { outcome: 'refused', reason: 'already_decided' };
  if (input.decision === 'deny') return { outcome: 'recorded', scopes, status: 'denied' };
  if (
    scopes.some((s) => passkeyRequired(catalogue, s, input.passkeyScopes)) &&
    !passkeySatisfies(input.authentication ?? { amr: [] }, {
      ticketId: input.ticketId ?? '',
      approverId,
      decision: input.decision,
      now: input.now,
    })
  )
    return { outcome: 'refused', reason: 'passkey_required' };
  const decisions = [...input.decisions, { approverId, decision: input.decision, scopes }];
  return {
    outcome: 'recorded',
    scopes,
    status: quorumMet(catalogue, ticket.scopes, decisions) ? 'approved' : 'pending',
  };
}
