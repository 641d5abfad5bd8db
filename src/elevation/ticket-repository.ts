import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';
import type { RecordedDecision } from './rules/index.ts';

type Q = Kysely<Database> | Transaction<Database>;

/** What a new ticket records. */
export interface NewTicket {
  requesterId: string | null;
  clientId: string;
  subject: string;
  scopes: string[];
  resource: string;
  justification: string;
  toolCall?: { tool: string; argumentsSha256: string };
  channel: 'interactive' | 'ciba';
  ref: string;
  expiresAt: Date;
}

/**
 * Approval tickets, their decisions and their approvers. Private to `elevation/`: everything
 * else goes through the elevation service. Functions taking a `Transaction` lock or write rows
 * that the caller's transaction must cover.
 */
export class TicketRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async open(trx: Transaction<Database>, t: NewTicket): Promise<TicketRow> {
    return trx
      .insertInto('elevation_ticket')
      .values({
        id: randomUUID(),
        status: 'pending',
        requester_id: t.requesterId,
        client_id: t.clientId,
        subject: t.subject,
        scopes: JSON.stringify(t.scopes),
        resource: t.resource,
        justification: t.justification,
        tool_call: t.toolCall ? JSON.stringify(t.toolCall) : null,
        channel: t.channel,
        ref: t.ref,
        expires_at: t.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Enabled members of any of `groups`, except `except` (the requester). */
  async approvers(trx: Transaction<Database>, groups: string[], except: string): Promise<string[]> {
    const rows = await trx
      .selectFrom('group_member')
      .innerJoin('app_user', 'app_user.id', 'group_member.user_id')
      .select('app_user.id')
      .distinct()
      .where('group_member.group_name', 'in', groups)
      .where('app_user.disabled', '=', false)
      .where('app_user.id', '!=', except)
      .execute();
    return rows.map((r) => r.id);
  }

  async find(id: string): Promise<TicketRow | undefined> {
    return this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The newest ticket a CIBA `auth_req_id` or interaction uid opened. */
  async findByRef(ref: string): Promise<TicketRow | undefined> {
    return this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('ref', '=', ref)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
  }

  /** The ticket, its row locked (`FOR UPDATE`) until the transaction ends. */
  async lock(trx: Transaction<Database>, id: string): Promise<TicketRow | undefined> {
    return trx
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  /** Up to `limit` pending tickets past their expiry at `now`, locked; rows locked elsewhere are skipped. */
  async lockDue(trx: Transaction<Database>, now: Date, limit: number): Promise<TicketRow[]> {
    return trx
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }

  /** The approver groups `userId` belongs to. */
  async groupsOf(userId: string, q: Q = this.#db): Promise<string[]> {
    const rows = await q
      .selectFrom('group_member')
      .select('group_name')
      .where('user_id', '=', userId)
      .execute();
    return rows.map((r) => r.group_name);
  }

  /** Decisions recorded on a ticket. */
  async decisions(trx: Transaction<Database>, ticketId: string): Promise<RecordedDecision[]> {
    const rows = await trx
      .selectFrom('ticket_decision')
      .select(['approver_id', 'decision', 'scopes'])
      .where('ticket_id', '=', ticketId)
      .execute();
    return rows.map((r) => ({ approverId: r.approver_id, decision: r.decision, scopes: r.scopes }));
  }

  async recordDecision(
    trx: Transaction<Database>,
    d: RecordedDecision & { ticketId: string; comment: string },
  ): Promise<void> {
    await trx
      .insertInto('ticket_decision')
      .values({
        ticket_id: d.ticketId,
        approver_id: d.approverId,
        decision: d.decision,
        scopes: JSON.stringify(d.scopes),
        comment: d.comment,
      })
      .execute();
  }

  async close(
    trx: Transaction<Database>,
    id: string,
    c: { status: TicketRow['status']; decidedAt: Date; elevationId: string | null },
  ): Promise<TicketRow> {
    return trx
      .updateTable('elevation_ticket')
      .set({ status: c.status, decided_at: c.decidedAt, elevation_id: c.elevationId })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
