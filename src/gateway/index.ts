/**
 * `mcp-elevate gateway` (ARCHITECTURE.md §11): a reverse proxy for MCP's Streamable HTTP transport that
 * protects any MCP server with the verifier. Resource-server side: imports only the verifier,
 * the policy engine and libraries.
 * @module
 */
export { startGateway, type Gateway, type GatewayOptions } from './server.ts';
export { createGatewayRoute, type GatewayRoute, type GatewayRouteOptions } from './route.ts';
export {
  GatewayConfigSchema,
  GatewayRouteSchema,
  GatewayConfigError,
  gatewayJsonSchema,
  loadGatewayConfig,
  parseGatewayConfig,
  resolveHeaders,
  type GatewayConfig,
  type GatewayRouteConfig,
} from './config.ts';
export { principalSigner, PRINCIPAL_JWT_TYPE, type PrincipalSignerOptions } from './principal.ts';
export { HEADER_MISMATCH } from '../verifier/http/routing-headers.ts';
