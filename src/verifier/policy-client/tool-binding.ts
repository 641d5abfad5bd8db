import { createHash } from 'node:crypto';
import {
  canonicalJson,
  MCP_TOOL_CALL,
  type ToolCall,
  type ToolCallDetail,
} from '../../policy/index.ts';

/**
 * SHA-256 (lowercase hex) of the canonical JSON (sorted keys, no whitespace) of tool arguments:
 * the `arguments_sha256` of an `mcp_tool_call` authorization detail.
 * @throws TypeError when the arguments cannot be written as JSON (see `canonicalJson`).
 */
export function argumentsSha256(args: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex');
}

/** The token's `mcp_tool_call` authorization details (RFC 9396), if it was bound to exact calls. */
export function toolBindings(claims: Record<string, unknown> | undefined): ToolCallDetail[] {
  const details = claims?.authorization_details;
  if (!Array.isArray(details)) return [];
  return details.filter(
    (d): d is ToolCallDetail =>
      typeof d === 'object' && d !== null && (d as { type?: unknown }).type === MCP_TOOL_CALL,
  );
}

/**
 * Whether a call is one the token's elevation was approved for: same tool, and SHA-256 of the
 * canonical JSON of the arguments equal to the approved hash. Approvers saw exactly that call.
 */
export function callMatchesBinding(bindings: ToolCallDetail[], call: ToolCall): boolean {
  let hash: string;
  try {
    hash = argumentsSha256(call.arguments);
  } catch {
    return false;
  }
  return bindings.some((b) => b.tool === call.name && b.arguments_sha256 === hash);
}
