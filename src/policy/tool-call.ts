import { z } from 'zod';
import type { ToolArguments } from './conditions.ts';

/**
 * An MCP `tools/call` request's `params`: the tool and its arguments. The one shape of a tool call:
 * the verifier's views of it (`Required<ToolCall>` for a call whose arguments were parsed) derive
 * from it.
 */
export interface ToolCall {
  /** Tool name. */
  name: string;
  /** Arguments as received; absent means `{}`. */
  arguments?: ToolArguments;
}

/** `authorization_details` type (RFC 9396) binding an elevation to one exact tool call (ARCHITECTURE.md §6). */
export const MCP_TOOL_CALL = 'mcp_tool_call';

/**
 * One `mcp_tool_call` authorization detail (RFC 9396): the tool and the SHA-256 (lowercase hex) of
 * the canonical JSON (`canonicalJson`) of its arguments. Checked by the authorization server when a
 * CIBA request carries it, and by the verifier when an elevated token does.
 */
export const ToolCallDetailSchema = z.strictObject({
  type: z.literal(MCP_TOOL_CALL),
  tool: z.string().min(1).max(128),
  arguments_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the canonical JSON arguments'),
  locations: z.array(z.string()).optional(),
});

/** See {@link ToolCallDetailSchema}. */
export type ToolCallDetail = z.infer<typeof ToolCallDetailSchema>;
