/**
 * The example MCP server (ARCHITECTURE.md §7.8): deployment tools protected by `mcp-elevate/verifier`.
 * @module
 */
export {
  startExampleMcpServer,
  type ExampleMcpServer,
  type ExampleMcpServerOptions,
} from './server.ts';
export {
  ExampleStore,
  ENVIRONMENTS,
  SERVICES,
  TEST_SUITES,
  type Deployment,
  type Environment,
  type Service,
  type TestSuite,
} from './data.ts';
export { registerExampleTools, SEMVER } from './tools.ts';
export { McpSessions, type McpSessionsOptions } from './sessions.ts';
