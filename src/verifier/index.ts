/**
 * `mcp-elevate/verifier`: what an MCP server imports to trust this authorization server's tokens
 * and enforce policy on tool calls. Depends on nothing of the server side (DESIGN §1).
 */
export * from './errors.ts';
export * from './token/index.ts';
export * from './http/index.ts';
