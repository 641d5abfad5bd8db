import { sql, type Kysely } from 'kysely';
import type { Adapter, default as Provider } from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ElevationService } from '../elevation/service.ts';
import { notFound } from '../errors.ts';

/** An agent (OAuth client) a user has authorized: the user's stored grants to it, together. */
export interface AuthorizedAgent {
  clientId: string;
  /** The oidc-provider Grant ids (`jti`) of this user and client. */
  grantIds: string[];
  /** Scopes granted, over every grant and resource, sorted. */
  scopes: string[];
  /** Resources (RFC 8707) the grants name, sorted. */
  resources: string[];
  /** When the oldest of these grants was made. */
  since: Date;
}

/** What revoking an agent ended. */
export interface AgentRevocation {
  grants: number;
  /** Ids of the elevations issued under those grants that were still standing and are now revoked. */
  elevations: string[];
}

/** Dependencies of {@link UserGrants}. */
export interface UserGrantsDeps {
  db: Kysely<Database>;
  provider: Provider;
  elevation: Pick<ElevationService, 'listElevations' | 'revoke'>;
  audit: AuditLog;
}

/** Token models oidc-provider ties to a grant; the list its own revocation helper clears. */
const GRANT_TOKEN_MODELS = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'BackchannelAuthenticationRequest',
] as const;

/**
 * A user's authorizations of agents: oidc-provider Grant records (stored by `adapter.ts`, one row
 * per grant in `oidc_payload`). Revoking an agent does what oidc-provider's own revocation does
 * when it revokes a grant (`lib/helpers/revoke.js`): every token of the grant is removed through its
 * model's `revokeByGrantId`, then the Grant itself; then each elevation still standing under those
 * grants is revoked through {@link ElevationService.revoke} (audited, and published on the
 * revocation feed, so MCP servers refuse its tokens within their poll interval). Rules it keeps:
 * - only the user's own grants are read or revoked (`accountId` is the user);
 * - a refresh token of a revoked grant is refused at once (the token is gone), and so is an access
 *   token wherever this server verifies its own tokens (the grant must still be stored); a
 *   resource server that checks JWTs alone accepts a base-scope access token until its `exp`;
 * - the revocation is audited as `grant.revoked` with the user as actor.
 */
export class UserGrants {
  readonly #deps: UserGrantsDeps;

  constructor(deps: UserGrantsDeps) {
    this.#deps = deps;
  }

  /** The agents `userId` has authorized and whose grants have not expired, by client id. */
  async list(userId: string): Promise<AuthorizedAgent[]> {
    const rows = await this.#deps.db
      .selectFrom('oidc_payload')
      .select(['id', 'payload'])
      .where('model', '=', 'Grant')
      .where(sql<string>`payload->>'accountId'`, '=', userId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .orderBy('id')
      .execute();
    const agents = new Map<string, AuthorizedAgent>();
    for (const { id, payload } of rows) {
      const p = payload as GrantPayload;
      if (typeof p.clientId !== 'string') continue;
      const agent = agents.get(p.clientId) ?? {
        clientId: p.clientId,
        grantIds: [],
        scopes: [],
        resources: [],
        since: new Date(8.64e15),
      };
      agent.grantIds.push(id);
      const scopes = new Set(agent.scopes);
      for (const s of words(p.openid?.scope)) scopes.add(s);
      const resources = new Set(agent.resources);
      for (const [resource, scope] of Object.entries(p.resources ?? {})) {
        resources.add(resource);
        for (const s of words(scope)) scopes.add(s);
      }
      agent.scopes = [...scopes].sort();
      agent.resources = [...resources].sort();
      if (typeof p.iat === 'number' && p.iat * 1000 < agent.since.getTime())
        agent.since = new Date(p.iat * 1000);
      agents.set(p.clientId, agent);
    }
    return [...agents.values()].sort((a, b) => a.clientId.localeCompare(b.clientId));
  }

  /**
   * Revokes every grant `userId` gave `clientId`, their tokens and the elevations issued under
   * them; `actor` is recorded as the revoker (the user themselves on their account page).
   *
   * @throws {AppError} `ERR_NOT_FOUND` when the user has no grant to that client.
   */
  async revoke(userId: string, clientId: string, actor: string): Promise<AgentRevocation> {
    const agent = (await this.list(userId)).find((a) => a.clientId === clientId);
    if (!agent) throw notFound('authorized agent');
    const { provider } = this.#deps;
    for (const grantId of agent.grantIds) {
      await Promise.all(GRANT_TOKEN_MODELS.map((m) => provider[m].revokeByGrantId(grantId)));
      // `Grant.adapter` exists at run time but is missing from the type definitions.
      await (provider.Grant as unknown as { adapter: Adapter }).adapter.destroy(grantId);
    }
    const ids = new Set(agent.grantIds);
    const standing = (
      await this.#deps.elevation.listElevations({ subject: userId, live: true, limit: 1000 })
    ).filter((e) => e.client_id === clientId && e.grant_id && ids.has(e.grant_id));
    const elevations: string[] = [];
    for (const e of standing)
      if (await this.#deps.elevation.revoke(e.id, actor)) elevations.push(e.id);
    await this.#deps.audit.append({
      action: 'grant.revoked',
      result: 'success',
      actor,
      subject: userId,
      clientId,
      data: { grants: agent.grantIds.length, scopes: agent.scopes, elevations },
    });
    return { grants: agent.grantIds.length, elevations };
  }
}

interface GrantPayload {
  clientId?: unknown;
  iat?: unknown;
  openid?: { scope?: unknown };
  resources?: Record<string, unknown>;
}

const words = (v: unknown): string[] => (typeof v === 'string' ? v.split(' ').filter(Boolean) : []);
