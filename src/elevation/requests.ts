import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, ElevationRow, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ElevationRepository } from './elevation-repository.ts';
import type { TicketRepository } from './ticket-repository.ts';
import type { HookList } from './hooks.ts';
import { IneligibleError } from './errors.ts';
import { elevationLifetime, gate, ticketExpiry } from './rules/index.ts';

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
  /** The grant an elevation granted at once is issued under (see `ElevationService.liveElevations`). */
  grantId?: string;
}

export type ElevationOutcome =
  { status: 'granted'; elevation: ElevationRow } | { status: 'pending'; ticket: TicketRow };

/** What {@link ElevationRequests} works with: the elevation service's own parts. */
export interface ElevationRequestsDeps {
  db: Kysely<Database>;
  catalogue: Catalogue;
  audit: AuditLog;
  now: () => Date;
  elevations: ElevationRepository;
  tickets: TicketRepository;
  hooks: HookList;
  /** Throws {@link IneligibleError} for a principal lacking a scope's `minRole`. */
  checkEligible(principal: ElevationPrincipal, scopes: string[]): Promise<void>;
}

/**
 * A request for elevation, after the gating rule (`gate`): granted at once (the elevation and
 * its audit event in one statement), or one ticket opened for approval with its approvers named,
 * audited and announced (`ticketOpened` hooks) in one transaction.
 */
export class ElevationRequests {
  readonly #deps: ElevationRequestsDeps;

  constructor(deps: ElevationRequestsDeps) {
    this.#deps = deps;
  }

  async request(req: ElevationRequest): Promise<ElevationOutcome> {
    const { audit, catalogue, hooks } = this.#deps;
    const base = {
      actor: req.principal.id,
      subject: req.principal.id,
      clientId: req.clientId,
      resource: req.resource,
    };
    try {
      await this.#deps.checkEligible(req.principal, req.scopes);
    } catch (err) {
      if (err instanceof IneligibleError) {
        hooks.outcome(req.scopes, 'ineligible');
        await audit.append({
          ...base,
          action: 'elevation.ineligible',
          result: 'denied',
          data: { scopes: req.scopes, requiredRole: err.requiredRole, channel: req.channel },
        });
      }
      throw err;
    }
    const now = this.#deps.now();
    const gated = gate({ catalogue, scopes: req.scopes, now });
    if (gated.outcome !== 'approval') {
      const id = randomUUID();
      // The elevation and its audit event in one statement: the most frequent transition.
      const elevation = await audit.appendWith(
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
          this.#deps.elevations.create(q, {
            id,
            subject: req.principal.id,
            clientId: req.clientId,
            scopes: req.scopes,
            resource: req.resource,
            lifetime: elevationLifetime(catalogue, req.scopes),
            grantId: req.grantId,
          }),
      );
      hooks.outcome(req.scopes, 'granted');
      return { status: 'granted', elevation };
    }
    const { tickets } = this.#deps;
    const ticket = await this.#deps.db.transaction().execute(async (trx) => {
      const t = await tickets.open(trx, {
        requesterId: req.principal.kind === 'user' ? req.principal.id : null,
        clientId: req.clientId,
        subject: req.principal.id,
        scopes: req.scopes,
        resource: req.resource,
        justification: req.justification,
        toolCall: req.toolCall,
        channel: req.channel,
        ref: req.ref,
        expiresAt: ticketExpiry(catalogue, gated.gated, now),
      });
      const approvers = await tickets.approvers(trx, gated.groups, req.principal.id);
      await audit.appendIn(trx, [
        {
          ...base,
          action: 'ticket.opened',
          result: 'success',
          data: {
            ticket: t.id,
            scopes: req.scopes,
            gated: gated.gated,
            groups: gated.groups,
            approvers: approvers.length,
            justification: req.justification,
            channel: req.channel,
          },
        },
      ]);
      await hooks.ticketOpened(trx, t, approvers);
      return t;
    });
    hooks.outcome(req.scopes, 'pending', ticket);
    await hooks.afterCommit(ticket);
    return { status: 'pending', ticket };
  }
}
