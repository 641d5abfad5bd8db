import type { Kysely } from 'kysely';
import type { Database, ElevationRow, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { inSpan } from '../ops/tracing.ts';
import { ElevationRepository } from './elevation-repository.ts';
import { TicketRepository } from './ticket-repository.ts';
import { TicketDecisions } from './ticket-decisions.ts';
import {
  ElevationRequests,
  type ElevationOutcome,
  type ElevationPrincipal,
  type ElevationRequest,
} from './requests.ts';
import { bindMintingToken, type BoundToken, type MintingToken } from './token-binding.ts';
import { HookList, type ElevationHooks } from './hooks.ts';
import { IneligibleError } from './errors.ts';
import {
  NO_AUTHENTICATION,
  approvableScopes,
  firstIneligible,
  passkeyRequired,
  type ApproverAuthentication,
} from './rules/index.ts';

export type { ElevationHooks } from './hooks.ts';
export type { ElevationOutcome, ElevationPrincipal, ElevationRequest } from './requests.ts';
export type { BoundToken, MintingToken } from './token-binding.ts';
export type { ApproverAuthentication, PasskeyProof } from './rules/index.ts';

/** Dependencies of {@link ElevationService}. */
export interface ElevationServiceDeps {
  db: Kysely<Database>;
  catalogue: Catalogue;
  roles: RoleService;
  audit: AuditLog;
  /** Clock of ticket expiry, claim windows and elevation windows. Default `() => new Date()`. */
  currentDate?: () => Date;
  /**
   * Scopes whose approval needs a passkey although their catalogue entry does not say
   * `requirePasskey` (`ADMIN_REQUIRE_PASSKEY` names `mcp:admin`). Default none.
   */
  passkeyScopes?: readonly string[];
}

/**
 * Elevation, shared by interactive step-up and CIBA (ARCHITECTURE.md §6): the one way in to `elevation/`.
 * The rules (`rules/`) decide — eligibility, gating, lifetimes, quorum, token binding; the parts
 * below load what they need, write what they decide, audit every transition in the transaction
 * that makes it and run the hooks (`hooks.ts`):
 * - `requests.ts`: a request, granted at once or opening a ticket;
 * - `ticket-decisions.ts`: decisions, cancellation and expiry, each under the ticket's row lock,
 *   so two approvers or two instances at once produce exactly one outcome and one elevation;
 * - `token-binding.ts`: the elevation a token being minted is bound to.
 * The repositories are private to `elevation/`: other folders come through this service.
 */
export class ElevationService {
  readonly #catalogue: Catalogue;
  readonly #roles: RoleService;
  readonly #audit: AuditLog;
  readonly #db: Kysely<Database>;
  readonly #now: () => Date;
  readonly #elevations: ElevationRepository;
  readonly #tickets: TicketRepository;
  readonly #hooks = new HookList();
  readonly #requests: ElevationRequests;
  readonly #decisions: TicketDecisions;
  readonly #passkeyScopes: readonly string[];

  constructor(deps: ElevationServiceDeps) {
    this.#db = deps.db;
    this.#catalogue = deps.catalogue;
    this.#roles = deps.roles;
    this.#audit = deps.audit;
    this.#now = deps.currentDate ?? (() => new Date());
    this.#passkeyScopes = Object.freeze([...(deps.passkeyScopes ?? [])]);
    this.#elevations = new ElevationRepository(deps.db, this.#now);
    this.#tickets = new TicketRepository(deps.db);
    const parts = {
      db: deps.db,
      catalogue: deps.catalogue,
      audit: deps.audit,
      now: this.#now,
      elevations: this.#elevations,
      tickets: this.#tickets,
      hooks: this.#hooks,
    };
    this.#requests = new ElevationRequests({
      ...parts,
      checkEligible: (principal, scopes) => this.checkEligible(principal, scopes),
    });
    this.#decisions = new TicketDecisions({ ...parts, passkeyScopes: this.#passkeyScopes });
  }

  addHooks(h: ElevationHooks): void {
    this.#hooks.add(h);
  }

  /** Throws {@link IneligibleError} naming the first scope whose `minRole` the principal lacks. */
  async checkEligible(principal: ElevationPrincipal, scopes: string[]): Promise<void> {
    const refused = firstIneligible({
      catalogue: this.#catalogue,
      roles: await this.#roles.graph(),
      principalRoles: principal.roles,
      scopes,
    });
    if (refused) throw new IneligibleError(refused.scope, refused.requiredRole);
  }

  /**
   * Asks for an elevation: granted at once, or a ticket opened for approval (rule `gate`).
   * @throws {IneligibleError} When the principal lacks a scope's `minRole` (audited).
   */
  async request(req: ElevationRequest): Promise<ElevationOutcome> {
    return inSpan(
      'elevation.request',
      {
        'mcp.elevation.scopes': req.scopes.join(' '),
        'mcp.elevation.channel': req.channel,
        'mcp.client.id': req.clientId,
      },
      () => this.#requests.request(req),
    );
  }

  async ticket(id: string): Promise<TicketRow | undefined> {
    return this.#tickets.find(id);
  }

  /** The newest ticket a CIBA `auth_req_id` or interaction uid opened. */
  async ticketByRef(ref: string): Promise<TicketRow | undefined> {
    return this.#tickets.findByRef(ref);
  }

  /** Scopes of the ticket that this user's groups may approve (empty: not an approver). */
  async approvableScopes(ticket: TicketRow, userId: string): Promise<string[]> {
    return approvableScopes(this.#catalogue, ticket.scopes, await this.#tickets.groupsOf(userId));
  }

  /**
   * Records one approver's decision and applies the quorum rules (rule `decideTicket`): the one
   * place a decision is taken, whatever the entry point. Approving a scope that needs a passkey
   * ({@link requiresPasskey}) needs `authentication.passkey`, a proof from the passkey service
   * bound to this ticket, this decision and this approver; `authentication.amr` goes to the audit
   * event of the decision.
   * @param authentication How the approver authenticated. Default: nothing stated, no passkey.
   * @throws {ElevationError} `ERR_TICKET_NOT_FOUND`, `ERR_TICKET_CLOSED`, `ERR_SELF_APPROVAL`,
   *   `ERR_NOT_APPROVER`, `ERR_ALREADY_DECIDED`, `ERR_PASSKEY_REQUIRED`.
   */
  async decide(
    ticketId: string,
    approverId: string,
    decision: 'approve' | 'deny',
    comment = '',
    authentication: ApproverAuthentication = NO_AUTHENTICATION,
  ): Promise<TicketRow> {
    return inSpan(
      'ticket.decide',
      { 'mcp.ticket.id': ticketId, 'mcp.ticket.decision': decision },
      () => this.#decisions.decide(ticketId, approverId, decision, comment, authentication),
    );
  }

  /** Whether approving any of `scopes` needs a passkey (rule `passkeyRequired`). */
  requiresPasskey(scopes: readonly string[]): boolean {
    return scopes.some((s) => passkeyRequired(this.#catalogue, s, this.#passkeyScopes));
  }

  /** The requester withdraws a pending ticket. */
  async cancel(ticketId: string, userId: string): Promise<TicketRow> {
    return this.#decisions.cancel(ticketId, userId);
  }

  /** Expires every pending ticket past its expiry; safe to run on several instances at once. */
  async expireDue(limit = 100): Promise<number> {
    return this.#decisions.expireDue(limit);
  }

  /** Revokes an elevation (admin, or its own subject) and audits it. */
  async revoke(elevationId: string, by: string): Promise<ElevationRow | undefined> {
    // The revocation and its audit event commit together.
    return this.#db.transaction().execute(async (trx) => {
      const row = await this.#elevations.revoke(elevationId, by, trx);
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

  /**
   * Live elevations of (subject, client, resource), newest first: not revoked, not expired, not
   * lapsed unclaimed. With `grantId`, only those issued under that grant — a token is bound to its
   * own flow's elevation, never to a concurrent one of the same user.
   */
  liveElevations(
    subject: string,
    clientId: string,
    resource: string,
    grantId?: string,
  ): Promise<ElevationRow[]> {
    return this.#elevations.live(subject, clientId, resource, grantId);
  }

  /** The scopes, elevation and expiry of a token being minted (rule `bindToken`). */
  bindToken(t: MintingToken): Promise<BoundToken> {
    return bindMintingToken(
      { catalogue: this.#catalogue, elevations: this.#elevations, now: this.#now },
      t,
    );
  }

  /** Records the grant an elevation was issued under (see {@link liveElevations}). */
  attachGrant(elevationId: string, grantId: string): Promise<void> {
    return this.#elevations.attachGrant(elevationId, grantId);
  }

  findElevation(id: string): Promise<ElevationRow | undefined> {
    return this.#elevations.find(id);
  }

  /** Elevations in id order, optionally of one subject or only live ones. */
  listElevations(
    opts: { subject?: string; live?: boolean; after?: string; limit?: number } = {},
  ): Promise<ElevationRow[]> {
    return this.#elevations.list(opts);
  }

  /** Revocations after cursor `since` (a revocation sequence number), oldest first: the feed. */
  revokedSince(since: string, limit?: number) {
    return this.#elevations.revokedSince(since, limit);
  }
}
