/**
 * mcp-elevate server entry point: `createServer(config)` builds a server, `startServer()` reads the
 * environment and listens.
 */
export { createServer, type Server, type ServerOptions } from './main.ts';
export { loadConfig, type Config, ConfigError } from './config/env.ts';
export { startServer } from './serve.ts';
