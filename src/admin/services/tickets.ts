import type { Kysely, Selectable } from 'kysely';
import type { Database, TicketDecisionTable, TicketRow } from '../../db/schema.ts';
import { notFound } from '../../errors.ts';
import { PAGE_SIZE, toPage, type Page } from '../pagination.ts';
import type { TicketFilter } from '../schemas.ts';
import { cursorTime, newestFirstCursor, olderThan } from './keyset.ts';

/** One approver's decision on a ticket. */
export type TicketDecisionRecord = Selectable<TicketDecisionTable>;

/**
 * Approval tickets for administrators, read-only: tickets change only through the approval pages
 * and the elevation service, which enforce the approver and quorum rules (ARCHITECTURE.md §6).
 */
export class TicketAdminService {
  readonly #db: Kysely<Database>;

  constructor(deps: { db: Kysely<Database> }) {
    this.#db = deps.db;
  }

  /** Tickets newest first, filtered. */
  async list(filter: TicketFilter): Promise<Page<TicketRow>> {
    const limit = filter.limit ?? PAGE_SIZE.default;
    let q = this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .select(cursorTime('elevation_ticket').as('cursor_time'))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    const after = olderThan('elevation_ticket', filter.cursor);
    if (after) q = q.where(after);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.requester !== undefined) q = q.where('requester_id', '=', filter.requester);
    if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
    if (filter.client !== undefined) q = q.where('client_id', '=', filter.client);
    const page = toPage(await q.execute(), limit, newestFirstCursor);
    return { items: page.items.map(({ cursor_time: _c, ...t }) => t), nextCursor: page.nextCursor };
  }

  /** A ticket with its decisions in the order they were made. @throws {AppError} 404 */
  async get(id: string): Promise<{ ticket: TicketRow; decisions: TicketDecisionRecord[] }> {
    const ticket = await this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!ticket) throw notFound(`ticket ${id}`);
    const decisions = await this.#db
      .selectFrom('ticket_decision')
      .selectAll()
      .where('ticket_id', '=', id)
      .orderBy('created_at')
      .orderBy('approver_id')
      .execute();
    return { ticket, decisions };
  }
}
