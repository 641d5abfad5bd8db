/**
 * The admin REST API (ARCHITECTURE.md §8): routes → services → repositories, zod schemas shared by
 * validation and the OpenAPI document, presenters listing what leaves the server.
 * @module
 */
export {
  ADMIN_BASE_PATH,
  adminAuthenticator,
  adminRouteTable,
  createAdminRouter,
} from './router.ts';
export type { AdminDeps } from './router.ts';
export { ADMIN_ROLE, ADMIN_SCOPE, AdminAuthenticator } from './auth.ts';
export type { AdminActor, AdminAuthOptions } from './auth.ts';
export { buildOpenApi } from './openapi.ts';
export { ADMIN_FALLBACK } from './fallback.ts';
export { allowedScopesOf } from './services/clients.ts';
export { routeInput, type AnyRoute } from './route.ts';
