import Router from '@koa/router';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ElevationService } from '../elevation/service.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { Catalogue } from '../policy/index.ts';
import { loadSigningKeys } from '../keys/keystore.ts';
import { createOwnTokenVerifier, type OwnTokenVerifier } from '../tokens/index.ts';
import { adminResource } from '../oidc/provider.ts';
import { AdminAuthenticator } from './auth.ts';
import { registerFallback } from './fallback.ts';
import { buildOpenApi } from './openapi.ts';
import { OpenApiView } from './presenters.ts';
import { publicRoute, registerRoute, type AnyRoute } from './route.ts';
import { auditRoutes } from './routes/audit.ts';
import { clientRoutes } from './routes/clients.ts';
import { elevationRoutes } from './routes/elevations.ts';
import { groupRoutes } from './routes/groups.ts';
import { roleRoutes } from './routes/roles.ts';
import { ticketRoutes } from './routes/tickets.ts';
import { userRoutes } from './routes/users.ts';
import { AuditQueryService } from './services/audit.ts';
import { ClientAdminService } from './services/clients.ts';
import { ElevationAdminService } from './services/elevations.ts';
import { GroupAdminService } from './services/groups.ts';
import { RoleAdminService } from './services/roles.ts';
import { TicketAdminService } from './services/tickets.ts';
import { UserAdminService } from './services/users.ts';

/** Where the admin API is mounted. */
export const ADMIN_BASE_PATH = '/admin/v1';

/** What the admin API needs from the composition root. */
export interface AdminDeps {
  issuer: string;
  provider: Provider;
  db: Kysely<Database>;
  roles: RoleService;
  audit: AuditLog;
  catalogue: Catalogue;
  /** Revokes elevations and audits each revocation; the admin API lists them from the database itself. */
  elevation: Pick<ElevationService, 'revoke' | 'findElevation'>;
  /** The server's one verifier of its own tokens. Default: one on this database and its signing keys. */
  tokens?: OwnTokenVerifier;
}

/**
 * The admin route table: every operation of `/admin/v1`, including the OpenAPI document itself.
 * It both registers the routes and generates that document, so the two cannot drift.
 */
export function adminRouteTable(deps: AdminDeps): AnyRoute[] {
  const { db, audit, catalogue } = deps;
  const table: AnyRoute[] = [
    ...roleRoutes(new RoleAdminService({ db, audit, catalogue, roles: deps.roles })),
    ...userRoutes(new UserAdminService({ db, audit, roles: deps.roles })),
    ...groupRoutes(new GroupAdminService({ db, audit, catalogue })),
    ...clientRoutes(
      new ClientAdminService({ db, audit, catalogue, provider: deps.provider, roles: deps.roles }),
    ),
    ...elevationRoutes(new ElevationAdminService({ db, elevation: deps.elevation })),
    ...ticketRoutes(new TicketAdminService({ db })),
    ...auditRoutes(audit, new AuditQueryService({ db, log: audit })),
  ];
  const openapi = publicRoute({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This OpenAPI 3.1 document',
    tag: 'meta',
    response: {
      status: 200,
      description: 'The OpenAPI document (it holds no secrets, so it needs no token)',
      schema: OpenApiView,
    },
    handle: async () => document,
  });
  // Built now, so a schema that cannot be documented stops the server at start, not at first call.
  const document = buildOpenApi([...table, openapi], {
    issuer: deps.issuer,
    basePath: ADMIN_BASE_PATH,
  });
  return [...table, openapi];
}

/**
 * The one check of an admin token (ARCHITECTURE.md §8): the API and the console both use it, so
 * revoking an admin elevation ends access through either at once.
 */
export function adminAuthenticator(deps: AdminDeps): AdminAuthenticator {
  const tokens =
    deps.tokens ??
    createOwnTokenVerifier({
      issuer: deps.issuer,
      db: deps.db,
      catalogue: deps.catalogue,
      roles: deps.roles,
      loadKeys: () => loadSigningKeys(deps.db),
    });
  return new AdminAuthenticator({
    audience: adminResource(deps.issuer),
    baseScopes: deps.catalogue.baseScopes,
    tokens,
  });
}

/**
 * The Koa router of the admin REST API (ARCHITECTURE.md §8), mounted at {@link ADMIN_BASE_PATH}; what no
 * route takes there is answered by its fallback (404/405 problems), never by oidc-provider.
 */
export function createAdminRouter(deps: AdminDeps): Router {
  const auth = adminAuthenticator(deps);
  const router = new Router({ prefix: ADMIN_BASE_PATH });
  const authenticate = auth.middleware();
  for (const route of adminRouteTable(deps)) registerRoute(router, route, authenticate);
  registerFallback(router);
  return router;
}
