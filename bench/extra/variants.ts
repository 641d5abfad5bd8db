/** The authentication variants of bench/verifier-http.ts (see mcp-variant.ts). */
export const VARIANTS = ['none', 'ours', 'sdk', 'ours-tools'] as const;
export type Variant = (typeof VARIANTS)[number];

/**
 * How the MCP server is served: `stateless` (a new McpServer and transport per request, the SDK's
 * stateless pattern) or `stateful` (one session, opened once, as the example server does).
 */
export const MODES = ['stateless', 'stateful'] as const;
export type Mode = (typeof MODES)[number];
