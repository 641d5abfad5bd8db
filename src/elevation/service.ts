import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, ElevationRow, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { ElevationRepository } from './elevations.ts';
import { inSpan } from '../ops/tracing.ts';
import {
  IneligibleError,
  alreadyDecided,
  notAnApprover,
  selfApproval,
  ticketClosed,
  ticketNotFound,
} from './errors.ts';
import { truncateCodePoints } from '../http/text.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** Who an elevation is for: a user, or a client acting on its own behalf. */
export interface ElevationPrincipal {
  kind: 'user' | 'client';
  id: string;
  /** Directly assigned role names (inheritance is resolved here). */
  roles: string[];
}

export interface ElevationRequest {
  principal: ElevationPrincipal;
  clientId: string;
  /** The elevated scopes asked for (base scopes are not elevation). */
  scopes: string[];
  resource: string;
  justification: string;
  toolCall?: { tool: string; argumentsSha256: string };
  channel: 'interactive' | 'ciba';
  /** CIBA auth_req_id or interaction uid. */
  ref: string;
  /** The grant an elevation granted at once is issued under (see ElevationRepository.live). */
  grantId?: string;
}

export type ElevationOutcome =
  { status: 'granted'; elevation: ElevationRow } | { status: 'pending'; ticket: TicketRow };

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

/** Default lifetime of an approval ticket (DESIGN §6). */
export const DEFAULT_TICKET_TTL = DEFAULTS.ticketTtlSeconds;

/**
 * Elevation policy, shared by interactive step-up and CIBA. Rules it enforces:
 * - every elevated scope needs its `minRole` (or a role inheriting it), else {@link IneligibleError};
 * - scopes without `approval` are granted at once; the others open one ticket for the request;
 * - approvers are members of any of a scope's groups, never the requester (nor the user an agent
 *   acts for); `quorum` distinct approvals per scope, every gated scope satisfied; one deny denies;
 * - decisions lock the ticket row (`FOR UPDATE`), so two approvers or two instances at once
 *   produce exactly one outcome and at most one elevation;
 * - every transition is audited inside the transaction that makes it.
 */
export class ElevationService {
  readonly elevations: ElevationRepository;
  readonly #db: Kysely<Database>;
  readonly #catalogue: Catalogue;
  readonly #roles: RoleService;
  readonly #audit: AuditLog;
  readonly #hooks: ElevationHooks[] = [];

  constructor(deps: {
    db: Kysely<Database>;
    catalogue: Catalogue;
    roles: RoleService;
    audit: AuditLog;
  }) {
    this.#db = deps.db;
    this.#catalogue = deps.catalogue;
    this.#roles = deps.roles;
    this.#audit = deps.audit;
    this.elevations = new ElevationRepository(deps.db);
  }

  addHooks(h: ElevationHooks): void {
    this.#hooks.push(h);
  }

  /** Throws {@link IneligibleError} naming the first scope whose `minRole` the principal lacks. */
  async checkEligible(principal: ElevationPrincipal, scopes: string[]): Promise<void> {
    const graph = await this.#roles.graph();
    for (const s of scopes) {
      const minRole = this.#catalogue.scopes[s]?.minRole;
      if (minRole && !graph.satisfies(principal.roles, minRole))
        throw new IneligibleError(s, minRole);
    }
  }

  /** Lifetime of an elevation of these scopes: the shortest `expiresIn`. */
  lifetime(scopes: string[]): number {
    return Math.min(...scopes.map((s) => this.#catalogue.scopes[s]?.expiresIn ?? Infinity), 3600);
  }

  /** Seconds a ticket for these scopes stays open: the shortest approval ttl. */
  ticketTtl(scopes: string[]): number {
    const ttls = scopes
      .map((s) => this.#catalogue.scopes[s]?.approval?.ttl)
      .filter((t): t is number => t !== undefined);
    return ttls.length ? Math.min(...ttls) : DEFAULT_TICKET_TTL;
  }

  gated(scopes: string[]): string[] {
    return scopes.filter((s) => this.#catalogue.scopes[s]?.approval);
  }

  async request(req: ElevationRequest): Promise<ElevationOutcome> {
    return inSpan(
      'elevation.request',
      {
        'mcp.elevation.scopes': req.scopes.join(' '),
        'mcp.elevation.channel': req.channel,
        'mcp.client.id': req.clientId,
      },
      () => this.#request(req),
    );
  }

  async #request(req: ElevationRequest): Promise<ElevationOutcome> {
    const base = {
      actor: req.principal.id,
      subject: req.principal.id,
      clientId: req.clientId,
      resource: req.resource,
    };
    try {
      await this.checkEligible(req.principal, req.scopes);
    } catch (err) {
      if (err instanceof IneligibleError) {
        this.#outcome(req.scopes, 'ineligible');
        await this.#audit.append({
          ...base,
          action: 'elevation.ineligible',
          result: 'denied',
          data: { scopes: req.scopes, requiredRole: err.requiredRole, channel: req.channel },
        });
      }
      throw err;
    }
    const gated = this.gated(req.scopes);
    if (!gated.length) {
      // The elevation and its audit event in one statement: the most frequent transition.
      const id = randomUUID();
      const elevation = await this.#audit.appendWith(
        [
          {
            ...base,
            action: 'elevation.granted',
            result: 'success',
            data: {
              elevation: id,
              scopes: req.scopes,
              justification: req.justification,
              channel: req.channel,
            },
          },
        ],
        (q) =>
          this.elevations.create(q, {
            id,
            subject: req.principal.id,
            clientId: req.clientId,
            scopes: req.scopes,
            resource: req.resource,
            lifetime: this.lifetime(req.scopes),
            grantId: req.grantId,
          }),
      );
      this.#outcome(req.scopes, 'granted');
      return { status: 'granted', elevation };
    }
    const groups = [...new Set(gated.flatMap((s) => this.#catalogue.scopes[s]!.approval!.groups))];
    const ticket = await this.#db.transaction().execute(async (trx) => {
      const t = await trx
        .insertInto('elevation_ticket')
        .values({
          id: randomUUID(),
          status: 'pending',
          requester_id: req.principal.kind === 'user' ? req.principal.id : null,
          client_id: req.clientId,
          subject: req.principal.id,
          scopes: JSON.stringify(req.scopes),
          resource: req.resource,
          justification: req.justification,
          tool_call: req.toolCall ? JSON.stringify(req.toolCall) : null,
          channel: req.channel,
          ref: req.ref,
          expires_at: new Date(Date.now() + this.ticketTtl(gated) * 1000),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const approvers = (
        await trx
          .selectFrom('group_member')
          .innerJoin('app_user', 'app_user.id', 'group_member.user_id')
          .select('app_user.id')
          .distinct()
          .where('group_member.group_name', 'in', groups)
          .where('app_user.disabled', '=', false)
          .where('app_user.id', '!=', req.principal.id)
          .execute()
      ).map((r) => r.id);
      await this.#audit.appendIn(trx, [
        {
          ...base,
          action: 'ticket.opened',
          result: 'success',
          data: {
            ticket: t.id,
            scopes: req.scopes,
            gated,
            groups,
            approvers: approvers.length,
            justification: req.justification,
            channel: req.channel,
          },
        },
      ]);
      for (const h of this.#hooks) await h.ticketOpened?.(trx, t, approvers);
      return t;
    });
    this.#outcome(req.scopes, 'pending', ticket);
    await this.#afterCommit(ticket);
    return { status: 'pending', ticket };
  }

  async ticket(id: string): Promise<TicketRow | undefined> {
    return this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async ticketByRef(ref: string): Promise<TicketRow | undefined> {
    return this.#db
      .selectFrom('elevation_ticket')
      .selectAll()
      .where('ref', '=', ref)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
  }

  /** Scopes of the ticket that this user's groups may approve (empty: not an approver). */
  async approvableScopes(
    ticket: TicketRow,
    userId: string,
    q: Kysely<Database> | Transaction<Database> = this.#db,
  ): Promise<string[]> {
    const groups = new Set(
      (
        await q
          .selectFrom('group_member')
          .select('group_name')
          .where('user_id', '=', userId)
          .execute()
      ).map((r) => r.group_name),
    );
    return this.gated(ticket.scopes).filter((s) =>
      this.#catalogue.scopes[s]!.approval!.groups.some((g) => groups.has(g)),
    );
  }

  /** Records one approver's decision and applies the quorum rules. */
  async decide(
    ticketId: string,
    approverId: string,
    decision: 'approve' | 'deny',
    comment = '',
  ): Promise<TicketRow> {
    return inSpan(
      'ticket.decide',
      { 'mcp.ticket.id': ticketId, 'mcp.ticket.decision': decision },
      () => this.#decide(ticketId, approverId, decision, comment),
    );
  }

  async #decide(
    ticketId: string,
    approverId: string,
    decision: 'approve' | 'deny',
    comment: string,
  ): Promise<TicketRow> {
    const ticket = await this.#db.transaction().execute(async (trx) => {
      const t = await trx
        .selectFrom('elevation_ticket')
        .selectAll()
        .where('id', '=', ticketId)
        .forUpdate()
        .executeTakeFirst();
      if (!t) throw ticketNotFound();
      if (t.status !== 'pending') throw ticketClosed(t.status);
      if (approverId === t.requester_id || approverId === t.subject) throw selfApproval();
      if (t.expires_at.getTime() <= Date.now()) return this.#close(trx, t, 'expired', null);
      const scopes = await this.approvableScopes(t, approverId, trx);
      if (!scopes.length) throw notAnApprover();
      const dup = await trx
        .selectFrom('ticket_decision')
        .select('approver_id')
        .where('ticket_id', '=', t.id)
        .where('approver_id', '=', approverId)
        .executeTakeFirst();
      if (dup) throw alreadyDecided();
      await trx
        .insertInto('ticket_decision')
        .values({
          ticket_id: t.id,
          approver_id: approverId,
          decision,
          scopes: JSON.stringify(scopes),
          comment: truncateCodePoints(comment, 1000),
        })
        .execute();
      await this.#audit.appendIn(trx, [
        {
          action: `ticket.${decision === 'approve' ? 'approval' : 'denial'}`,
          result: 'success',
          actor: approverId,
          subject: t.subject,
          clientId: t.client_id,
          resource: t.resource,
          data: { ticket: t.id, scopes, comment },
        },
      ]);
      if (decision === 'deny') return this.#close(trx, t, 'denied', approverId);
      if (!(await this.#quorumMet(trx, t))) return t;
      return this.#close(trx, t, 'approved', approverId);
    });
    if (ticket.status !== 'pending') await this.#afterCommit(ticket);
    if (ticket.status === 'expired') throw ticketClosed('expired');
    return ticket;
  }

  /** The requester withdraws a pending ticket. */
  async cancel(ticketId: string, userId: string): Promise<TicketRow> {
    const ticket = await this.#db.transaction().execute(async (trx) => {
      const t = await trx
        .selectFrom('elevation_ticket')
        .selectAll()
        .where('id', '=', ticketId)
        .forUpdate()
        .executeTakeFirst();
      if (!t || (t.requester_id !== userId && t.subject !== userId)) throw ticketNotFound();
      if (t.status !== 'pending') throw ticketClosed(t.status);
      return this.#close(trx, t, 'cancelled', userId);
    });
    await this.#afterCommit(ticket);
    return ticket;
  }

  /** Expires every pending ticket past its expiry; safe to run on several instances at once. */
  async expireDue(limit = 100): Promise<number> {
    const closed = await this.#db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('elevation_ticket')
        .selectAll()
        .where('status', '=', 'pending')
        .where('expires_at', '<=', new Date())
        .orderBy('expires_at')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      const out: TicketRow[] = [];
      for (const t of due) out.push(await this.#close(trx, t, 'expired', null));
      return out;
    });
    for (const t of closed) await this.#afterCommit(t);
    return closed.length;
  }

  async #quorumMet(trx: Transaction<Database>, t: TicketRow): Promise<boolean> {
    const approvals = await trx
      .selectFrom('ticket_decision')
      .select(['approver_id', 'scopes'])
      .where('ticket_id', '=', t.id)
      .where('decision', '=', 'approve')
      .execute();
    return this.gated(t.scopes).every((s) => {
      const quorum = this.#catalogue.scopes[s]!.approval!.quorum;
      return (
        new Set(approvals.filter((a) => a.scopes.includes(s)).map((a) => a.approver_id)).size >=
        quorum
      );
    });
  }

  async #close(
    trx: Transaction<Database>,
    t: TicketRow,
    status: 'approved' | 'denied' | 'expired' | 'cancelled',
    by: string | null,
  ): Promise<TicketRow> {
    let elevationId: string | null = null;
    if (status === 'approved') {
      const e = await this.elevations.create(trx, {
        subject: t.subject,
        clientId: t.client_id,
        scopes: t.scopes,
        resource: t.resource,
        lifetime: this.lifetime(t.scopes),
        ticketId: t.id,
      });
      elevationId = e.id;
    }
    const closed = await trx
      .updateTable('elevation_ticket')
      .set({ status, decided_at: new Date(), elevation_id: elevationId })
      .where('id', '=', t.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.#audit.appendIn(trx, [
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
    for (const h of this.#hooks) await h.ticketClosed?.(trx, closed);
    return closed;
  }

  #outcome(scopes: string[], outcome: string, ticket?: TicketRow): void {
    for (const h of this.#hooks) h.outcome?.(scopes, outcome, ticket);
  }

  async #afterCommit(ticket: TicketRow): Promise<void> {
    if (ticket.status !== 'pending') this.#outcome(ticket.scopes, ticket.status, ticket);
    for (const h of this.#hooks) {
      try {
        await h.afterCommit?.(ticket);
      } catch {
        // A failed after-commit effect (e.g. resuming a CIBA request) must not undo the decision.
      }
    }
  }

  /** Revokes an elevation (admin, or its own subject) and audits it. */
  async revoke(elevationId: string, by: string): Promise<ElevationRow | undefined> {
    // The revocation and its audit event commit together.
    return this.#db.transaction().execute(async (trx) => {
      const row = await this.elevations.revoke(elevationId, by, trx);
      if (row)
        await this.#audit.appendIn(trx, [
          {
            action: 'elevation.revoked',
            result: 'success',
            actor: by,
            subject: row.subject,
            clientId: row.client_id,
            resource: row.resource,
            data: { elevation: row.id, scopes: row.scopes },
          },
        ]);
      return row;
    });
  }
}
