import type { Transaction } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';

/** Side effects that run inside the transaction of a transition (mail via the outbox), and after it commits. */
export interface ElevationHooks {
  ticketOpened?(
    trx: Transaction<Database>,
    ticket: TicketRow,
    approverIds: string[],
  ): Promise<void>;
  ticketClosed?(trx: Transaction<Database>, ticket: TicketRow): Promise<void>;
  afterCommit?(ticket: TicketRow): Promise<void> | void;
  /** Every outcome of a request or ticket, for metrics: granted, pending, ineligible, approved, denied, expired, cancelled. */
  outcome?(scopes: string[], outcome: string, ticket?: TicketRow): void;
}

/** The hooks added to the elevation service, run in the order they were added. */
export class HookList {
  readonly #hooks: ElevationHooks[] = [];

  add(h: ElevationHooks): void {
    this.#hooks.push(h);
  }

  async ticketOpened(trx: Transaction<Database>, t: TicketRow, approverIds: string[]) {
    for (const h of this.#hooks) await h.ticketOpened?.(trx, t, approverIds);
  }

  async ticketClosed(trx: Transaction<Database>, t: TicketRow) {
    for (const h of this.#hooks) await h.ticketClosed?.(trx, t);
  }

  outcome(scopes: string[], outcome: string, ticket?: TicketRow): void {
    for (const h of this.#hooks) h.outcome?.(scopes, outcome, ticket);
  }

  /** After a transition committed: its outcome (once the ticket is closed), then each effect. */
  async afterCommit(ticket: TicketRow): Promise<void> {
    if (ticket.status !== 'pending') this.outcome(ticket.scopes, ticket.status, ticket);
    for (const h of this.#hooks) {
      try {
        await h.afterCommit?.(ticket);
      } catch {
        // A failed after-commit effect (e.g. resuming a CIBA request) must not undo the decision.
      }
    }
  }
}
