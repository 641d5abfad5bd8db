import type Router from '@koa/router';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/schema.ts';
import type { UserRepository } from '../accounts/users.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ElevationService } from '../elevation/service.ts';
import { createOutboundGuard } from '../http/outbound.ts';
import { loadFederation, type Upstream } from './config.ts';
import { federationRoutes } from './routes.ts';
import { FederationService } from './service.ts';
import { FederationTransactions } from './transactions.ts';
import { UpstreamClients } from './upstream-client.ts';

export { FederationConfigError, type Upstream } from './config.ts';

/** Enterprise sign-in of one server instance. */
export interface Federation {
  /** The configured upstreams (empty: no enterprise sign-in). */
  readonly upstreams: readonly Upstream[];
  /** Start, callback and interaction hand-over routes. */
  routes(provider: Provider): Router;
  /** Deletes abandoned sign-ins; returns how many. */
  cleanup(): Promise<number>;
  /** Releases the upstream connections. */
  close(): Promise<void>;
}

/**
 * Reads `FEDERATION_FILE` (before the port opens: a bad file stops the start) and wires the
 * relying party, the transaction store and the sign-in service (ARCHITECTURE.md §12).
 * @throws {FederationConfigError} for a bad file.
 */
export async function createFederation(deps: {
  config: Config;
  db: Kysely<Database>;
  users: UserRepository;
  audit: AuditLog;
  elevation: ElevationService;
  roleNames: readonly string[];
  currentDate?: () => Date;
}): Promise<Federation> {
  const { config, db } = deps;
  const groups = await db.selectFrom('approver_group').select('name').execute();
  const upstreams = await loadFederation(config.federation, {
    roles: deps.roleNames,
    groups: groups.map((g) => g.name),
    outboundAllow: config.outboundAllow,
  });
  const guard = createOutboundGuard({ allow: config.outboundAllow });
  const clients = new UpstreamClients(config.issuer, guard);
  const transactions = new FederationTransactions(db, deps.currentDate);
  const service = new FederationService({
    db,
    users: deps.users,
    audit: deps.audit,
    elevation: deps.elevation,
  });
  return {
    upstreams,
    routes: (provider) =>
      federationRoutes({
        upstreams,
        clients,
        transactions,
        service,
        provider,
        audit: deps.audit,
        currentDate: deps.currentDate,
      }),
    cleanup: () => transactions.deleteExpired(),
    close: () => guard.close(),
  };
}
