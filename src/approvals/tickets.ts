import { sql, type Kysely } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';

/**
 * Kysely types generated timestamp columns loosely (`Generated<ColumnType<Date…>>` is selected as
 * the column type); both drivers return `Date`, a string would be parsed.
 */
export function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

/** One decision on a ticket, with who made it. */
export interface DecisionView {
  approverId: string;
  approverEmail: string;
  approverName: string;
  decision: 'approve' | 'deny';
  scopes: string[];
  comment: string;
  at: Date;
}

/** A pending ticket with its requester, for the approver's list. */
export interface PendingTicket {
  ticket: TicketRow;
  requesterEmail: string | null;
  /** This approver's own decision, when they already made one (quorum > 1 keeps it pending). */
  myDecision: 'approve' | 'deny' | null;
}

/** Read-only queries the approval pages need beyond {@link ElevationService} (which owns every write). */
export class ApprovalQueries {
  readonly #db: Kysely<Database>;
  readonly #now: () => Date;

  constructor(db: Kysely<Database>, currentDate: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = currentDate;
  }

  /**
   * Pending, unexpired tickets touching any of `scopes`, not requested by (nor for) `userId`,
   * newest first. A coarse filter: the caller still asks the service which scopes the user may
   * approve, so the approval rule lives in one place.
   */
  async pendingFor(userId: string, scopes: string[], limit = 100): Promise<PendingTicket[]> {
    if (!scopes.length) return [];
    const rows = await this.#db
      .selectFrom('elevation_ticket as t')
      .leftJoin('app_user as u', 'u.id', 't.requester_id')
      .leftJoin('ticket_decision as d', (j) =>
        j.onRef('d.ticket_id', '=', 't.id').on('d.approver_id', '=', userId),
      )
      .selectAll('t')
      .select(['u.email as requester_email', 'd.decision as my_decision'])
      .where('t.status', '=', 'pending')
      .where('t.expires_at', '>', this.#now())
      .where('t.subject', '!=', userId)
      .where((eb) => eb.or([eb('t.requester_id', 'is', null), eb('t.requester_id', '!=', userId)]))
      // jsonb `?|`: the ticket names at least one of these scopes.
      .where(sql<boolean>`t.scopes ?| array[${sql.join(scopes)}]::text[]`)
      .orderBy('t.created_at', 'desc')
      .orderBy('t.id')
      .limit(limit)
      .execute();
    return rows.map(({ requester_email, my_decision, ...ticket }) => ({
      ticket: ticket as TicketRow,
      requesterEmail: requester_email,
      myDecision: my_decision,
    }));
  }

  /** Decisions so far, oldest first. */
  async decisions(ticketId: string): Promise<DecisionView[]> {
    const rows = await this.#db
      .selectFrom('ticket_decision as d')
      .leftJoin('app_user as u', 'u.id', 'd.approver_id')
      .select([
        'd.approver_id',
        'd.decision',
        'd.scopes',
        'd.comment',
        'd.created_at',
        'u.email',
        'u.name',
      ])
      .where('d.ticket_id', '=', ticketId)
      .orderBy('d.created_at')
      .orderBy('d.approver_id')
      .execute();
    return rows.map((r) => ({
      approverId: r.approver_id,
      approverEmail: r.email ?? '(deleted user)',
      approverName: r.name ?? '',
      decision: r.decision,
      scopes: r.scopes,
      comment: r.comment,
      at: asDate(r.created_at),
    }));
  }
}
