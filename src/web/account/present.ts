import type { TicketRow } from '../../db/schema.ts';
import type { ElevationRecord } from '../../admin/services/elevations.ts';
import type { TicketDecisionRecord } from '../../admin/services/tickets.ts';
import type { AuthorizedAgent } from '../../oidc/user-grants.ts';
import { formatDuration } from '../../http/format.ts';
import { ticketOpen } from '../../elevation/rules/index.ts';

/**
 * What the account page shows, shaped for `views/account.eta`: exactly the fields that leave the
 * server, times as {@link Instant}s, durations in words. Every string is escaped by the view.
 */

/** A point in time: ISO 8601 for `<time datetime>`, and the UTC text shown until a script localises it. */
export interface Instant {
  iso: string;
  utc: string;
}

/** `2026-11-30 03:12 UTC`: the text a reader without JavaScript sees, and the hover text. */
export function instant(at: Date | string): Instant {
  const d = at instanceof Date ? at : new Date(at);
  const iso = d.toISOString();
  return { iso, utc: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` };
}

/** A status badge: its text and the colour class (`views/account.eta` defines the colours). */
export interface Badge {
  text: string;
  tone: 'good' | 'wait' | 'bad' | 'done';
}

const TICKET_BADGES: Record<TicketRow['status'], Badge> = {
  pending: { text: 'Pending', tone: 'wait' },
  approved: { text: 'Approved', tone: 'good' },
  denied: { text: 'Denied', tone: 'bad' },
  expired: { text: 'Expired', tone: 'done' },
  cancelled: { text: 'Cancelled', tone: 'done' },
};

/** Names of agents by client id; an unknown id stands for itself. */
export type AgentNames = (clientId: string) => string;

/** A live elevation row: what it allows, where, for which agent, and how long it has left. */
export function presentElevation(e: ElevationRecord, now: Date, agentName: AgentNames) {
  const expires = e.expires_at ? new Date(e.expires_at) : undefined;
  return {
    id: e.id,
    scopes: e.scopes,
    resource: e.resource,
    agent: { id: e.client_id, name: agentName(e.client_id) },
    granted: instant(e.created_at),
    // An elevation's window starts when its first token is minted; before that it waits for it.
    timeLeft: expires
      ? `${formatDuration((expires.getTime() - now.getTime()) / 1000)} left`
      : `not used yet; ${formatDuration(e.lifetime)} from first use`,
    until: expires ? instant(expires) : null,
    badge: { text: expires ? 'Live' : 'Unused', tone: 'good' } satisfies Badge,
  };
}

/** Whether the requester can still cancel the ticket (pending and inside its window). */
export function cancellable(t: TicketRow, now: Date): boolean {
  return ticketOpen({ status: t.status, expiresAt: new Date(t.expires_at) }, now);
}

/** One decision on a past request, with who took it. */
export interface DecisionLine {
  who: string;
  decision: 'approved' | 'denied';
  comment: string;
  at: Instant;
}

/** A request (ticket) of the user, pending or past. */
export function presentTicket(
  t: TicketRow,
  now: Date,
  agentName: AgentNames,
  decisions: DecisionLine[] = [],
) {
  // A pending ticket past its expiry reads as expired before the sweep closes it.
  const status = t.status === 'pending' && !cancellable(t, now) ? 'expired' : t.status;
  const expires = new Date(t.expires_at);
  return {
    id: t.id,
    scopes: t.scopes,
    resource: t.resource,
    agent: { id: t.client_id, name: agentName(t.client_id) },
    justification: t.justification,
    requested: instant(t.created_at),
    decided: t.decided_at ? instant(t.decided_at) : null,
    timeLeft:
      status === 'pending'
        ? `${formatDuration((expires.getTime() - now.getTime()) / 1000)} left`
        : null,
    badge: TICKET_BADGES[status],
    decisions,
  };
}

/** Decisions for display, oldest first, with the approver's name and email where known. */
export function presentDecisions(
  decisions: TicketDecisionRecord[],
  people: Map<string, { email: string; name: string } | undefined>,
): DecisionLine[] {
  return decisions.map((d) => {
    const p = people.get(d.approver_id);
    return {
      who: p ? (p.name ? `${p.name} <${p.email}>` : p.email) : '(deleted user)',
      decision: d.decision === 'approve' ? 'approved' : 'denied',
      comment: d.comment,
      at: instant(d.created_at),
    };
  });
}

/** An authorized agent row. */
export function presentAgent(a: AuthorizedAgent, agentName: AgentNames) {
  return {
    id: a.clientId,
    name: agentName(a.clientId),
    scopes: a.scopes.filter((s) => s !== 'openid'),
    resources: a.resources,
    since: instant(a.since),
  };
}

/** Fixed messages for `?done=` after an action; request text is never echoed. */
export const NOTICES = {
  dropped: 'The elevation was dropped. MCP servers refuse its tokens within seconds.',
  ended: 'That elevation had already ended; nothing changed.',
  cancelled: 'The request was cancelled.',
  closed: 'That request was already closed; nothing changed.',
  revoked: "The agent's access was revoked: its tokens no longer work.",
} as const;

/** The notice for a `done` query value, or null. */
export function noticeFor(done: unknown): string | null {
  return typeof done === 'string' && Object.hasOwn(NOTICES, done)
    ? NOTICES[done as keyof typeof NOTICES]
    : null;
}
