import type { Kysely, Transaction } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { truncateCodePoints } from '../http/text.ts';
import type { ElevationRepository } from './elevation-repository.ts';
import type { TicketRepository } from './ticket-repository.ts';
import type { HookList } from './hooks.ts';
import {
  alreadyDecided,
  notAnApprover,
  passkeyRequiredError,
  selfApproval,
  ticketClosed,
  ticketNotFound,
} from './errors.ts';
import {
  decideTicket,
  elevationLifetime,
  ownTicket,
  type ApproverAuthentication,
  type TicketFacts,
} from './rules/index.ts';

const REFUSALS = {
  ticket_closed: (t: TicketRow) => ticketClosed(t.status),
  self_approval: () => selfApproval(),
  not_an_approver: () => notAnApprover(),
  already_decided: () => alreadyDecided(),
  passkey_required: () => passkeyRequiredError(),
} as const;

const facts = (t: TicketRow): TicketFacts => ({
  status: t.status,
  requesterId: t.requester_id,
  subject: t.subject,
  scopes: t.scopes,
  expiresAt: t.expires_at,
});

/** What {@link TicketDecisions} works with: the elevation service's own parts. */
export interface TicketDecisionsDeps {
  db: Kysely<Database>;
  catalogue: Catalogue;
  audit: AuditLog;
  now: () => Date;
  elevations: ElevationRepository;
  tickets: TicketRepository;
  hooks: HookList;
  /** Scopes needing a passkey beyond the catalogue's `requirePasskey` (`ADMIN_REQUIRE_PASSKEY`). */
  passkeyScopes: readonly string[];
}

/**
 * The transitions of a pending ticket: an approver's decision, the requester's cancellation and
 * expiry. The ticket rules (`rules/tickets.ts`) decide; this class locks the ticket row
 * (`FOR UPDATE`) for the whole transition, writes the outcome, audits it in the same transaction
 * and creates the elevation of an approved ticket.
 */
export class TicketDecisions {
  readonly #deps: TicketDecisionsDeps;

  constructor(deps: TicketDecisionsDeps) {
    this.#deps = deps;
  }

  /** Records one approver's decision, authenticated as `authentication` says, and applies the quorum rules. */
  async decide(
    ticketId: string,
    approverId: string,
    decision: 'approve' | 'deny',
    comment: string,
    authentication: ApproverAuthentication,
  ): Promise<TicketRow> {
    const { db, tickets, catalogue, hooks } = this.#deps;
    const ticket = await db.transaction().execute(async (trx) => {
      const t = await tickets.lock(trx, ticketId);
      if (!t) throw ticketNotFound();
      const outcome = decideTicket({
        catalogue,
        ticket: facts(t),
        approverId,
        approverGroups: await tickets.groupsOf(approverId, trx),
        decisions: await tickets.decisions(trx, t.id),
        decision,
        now: this.#deps.now(),
        ticketId: t.id,
        authentication,
        passkeyScopes: this.#deps.passkeyScopes,
      });
      if (outcome.outcome === 'refused') throw REFUSALS[outcome.reason](t);
      if (outcome.outcome === 'expired') return this.#close(trx, t, 'expired', null);
      const { scopes } = outcome;
      await tickets.recordDecision(trx, {
        ticketId: t.id,
        approverId,
        decision,
        scopes,
        comment: truncateCodePoints(comment, 1000),
      });
      await this.#deps.audit.appendIn(trx, [
        {
          action: `ticket.${decision === 'approve' ? 'approval' : 'denial'}`,
          result: 'success',
          actor: approverId,
          subject: t.subject,
          clientId: t.client_id,
          resource: t.resource,
          // How the approver authenticated (RFC 8176 `amr`) and which passkey: never key material.
          data: {
            ticket: t.id,
            scopes,
            comment,
            amr: [...authentication.amr],
            ...(authentication.passkey ? { passkey: authentication.passkey.passkeyId } : {}),
          },
        },
      ]);
      if (outcome.status === 'pending') return t;
      return this.#close(trx, t, outcome.status, approverId);
    });
    if (ticket.status !== 'pending') await hooks.afterCommit(ticket);
    if (ticket.status === 'expired') throw ticketClosed('expired');
    return ticket;
  }

  /** The requester (or the user it is for) withdraws a pending ticket. */
  async cancel(ticketId: string, userId: string): Promise<TicketRow> {
    const ticket = await this.#deps.db.transaction().execute(async (trx) => {
      const t = await this.#deps.tickets.lock(trx, ticketId);
      if (!t || !ownTicket(facts(t), userId)) throw ticketNotFound();
      if (t.status !== 'pending') throw ticketClosed(t.status);
      return this.#close(trx, t, 'cancelled', userId);
    });
    await this.#deps.hooks.afterCommit(ticket);
    return ticket;
  }

  /** Expires every pending ticket past its expiry; safe to run on several instances at once. */
  async expireDue(limit: number): Promise<number> {
    const closed = await this.#deps.db.transaction().execute(async (trx) => {
      const due = await this.#deps.tickets.lockDue(trx, this.#deps.now(), limit);
      const out: TicketRow[] = [];
      for (const t of due) out.push(await this.#close(trx, t, 'expired', null));
      return out;
    });
    for (const t of closed) await this.#deps.hooks.afterCommit(t);
    return closed.length;
  }

  async #close(
    trx: Transaction<Database>,
    t: TicketRow,
    status: 'approved' | 'denied' | 'expired' | 'cancelled',
    by: string | null,
  ): Promise<TicketRow> {
    let elevationId: string | null = null;
    if (status === 'approved') {
      const e = await this.#deps.elevations.create(trx, {
        subject: t.subject,
        clientId: t.client_id,
        scopes: t.scopes,
        resource: t.resource,
        lifetime: elevationLifetime(this.#deps.catalogue, t.scopes),
        ticketId: t.id,
      });
      elevationId = e.id;
    }
    const closed = await this.#deps.tickets.close(trx, t.id, {
      status,
      decidedAt: this.#deps.now(),
      elevationId,
    });
    await this.#deps.audit.appendIn(trx, [
      {
        action: `ticket.${status}`,
        result: status === 'approved' ? 'success' : status === 'denied' ? 'denied' : 'failure',
        actor: by,
        subject: t.subject,
        clientId: t.client_id,
        resource: t.resource,
        data: {
          ticket: t.id,
          scopes: t.scopes,
          ...(elevationId ? { elevation: elevationId } : {}),
        },
      },
    ]);
    await this.#deps.hooks.ticketClosed(trx, closed);
    return closed;
  }
}
