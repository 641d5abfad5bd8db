import type { TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { DecisionView } from './tickets.ts';
import { formatDuration } from '../http/format.ts';
import { ticketOpen } from '../elevation/rules/index.ts';

export { formatDuration } from '../http/format.ts';

/** What is left of a ticket's decision window, rounded down ("14 minutes left"), or "expired". */
export function timeLeft(expiresAt: Date, now = Date.now()): string {
  const ms = expiresAt.getTime() - now;
  return ms <= 0 ? 'expired' : `${formatDuration(ms / 1000)} left`;
}

/** Whether the ticket can still be decided (pending and inside its window). */
export function isOpen(ticket: TicketRow, now = Date.now()): boolean {
  return ticketOpen({ status: ticket.status, expiresAt: ticket.expires_at }, new Date(now));
}

const OUTCOMES: Record<TicketRow['status'], string> = {
  pending: 'Waiting for approval',
  approved: 'Approved: the elevation was granted',
  denied: 'Denied',
  expired: 'Expired before enough approvals arrived',
  cancelled: 'Cancelled by the requester',
};

/** The status a person reads; a pending ticket past its expiry is shown as expired before the sweep closes it. */
export function outcome(
  ticket: TicketRow,
  now = Date.now(),
): { status: TicketRow['status']; text: string } {
  const status = ticket.status === 'pending' && !isOpen(ticket, now) ? 'expired' : ticket.status;
  return { status, text: OUTCOMES[status] };
}

/** Fixed messages for the `done` query parameter after a decision; never echoes request text. */
export const NOTICES = {
  approve: 'You approved this request.',
  deny: 'You denied this request.',
  closed: 'This request was already closed; your decision was not recorded.',
  duplicate: 'You have already decided on this request; nothing changed.',
} as const;

/** One scope of a ticket as approvers see it. */
export interface ScopeView {
  name: string;
  description: string;
  lifetime: string;
  needsApproval: boolean;
  groups: string;
  quorum: number;
  approvals: number;
  /** The signed-in approver's groups may approve this scope. */
  mine: boolean;
}

/** Scopes with their catalogue description and lifetime, and quorum progress from the decisions so far. */
export function presentScopes(
  catalogue: Catalogue,
  ticket: TicketRow,
  decisions: DecisionView[],
  mine: string[],
): ScopeView[] {
  return ticket.scopes.map((name) => {
    const def = catalogue.scopes[name];
    const approval = def?.approval;
    const approvers = new Set(
      decisions
        .filter((d) => d.decision === 'approve' && d.scopes.includes(name))
        .map((d) => d.approverId),
    );
    return {
      name,
      description: def?.description ?? '(not in the current scope catalogue)',
      lifetime: def?.expiresIn ? formatDuration(def.expiresIn) : 'standard',
      needsApproval: approval !== undefined,
      groups: approval ? approval.groups.join(' or ') : '',
      quorum: approval?.quorum ?? 0,
      approvals: approvers.size,
      mine: mine.includes(name),
    };
  });
}

/** Decisions for display: times as ISO strings (the page has no script to localise them). */
export function presentDecisions(decisions: DecisionView[]) {
  return decisions.map((d) => ({
    who: d.approverName ? `${d.approverName} <${d.approverEmail}>` : d.approverEmail,
    decision: d.decision === 'approve' ? 'approved' : 'denied',
    comment: d.comment,
    at: d.at.toISOString(),
  }));
}

/** Why a decision or a ticket page is refused (403), as the refusal page says it. */
export const REFUSALS = {
  self: {
    title: 'You cannot approve your own request',
    message:
      'This elevation was requested by you or for your account. Another approver has to decide on it.',
  },
  foreign: {
    title: 'You are not an approver for this request',
    message:
      'Only members of the groups that approve its scopes can decide on it. Ask an administrator if you think you should be one.',
  },
  passkey: {
    title: 'A passkey is needed to approve this request',
    message:
      'Approving this request needs a fresh check with one of your passkeys, which needs JavaScript in your browser. Nothing was recorded; the request is still waiting. Go back to it and approve again with your passkey, or deny it.',
  },
  passkeyFailed: {
    title: 'The passkey check did not succeed',
    message: 'Nothing was recorded; the request is still waiting.',
  },
} as const;
