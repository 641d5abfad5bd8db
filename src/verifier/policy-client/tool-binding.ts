import { createHash } from 'node:crypto';
import { canonicalJson } from '../../policy/index.ts';

interface ToolCallDetail {
  type: 'mcp_tool_call';
  tool: string;
  arguments_sha256: string;
}

/** The token's `mcp_tool_call` authorization details (RFC 9396), if it was bound to exact calls. */
export function toolBindings(claims: Record<string, unknown> | undefined): ToolCallDetail[] {
  const details = claims?.authorization_details;
  if (!Array.isArray(details)) return [];
  return details.filter(
    (d): d is ToolCallDetail =>
      typeof d === 'object' && d !== null && (d as { type?: unknown }).type === 'mcp_tool_call',
  );
}

/**
 * Whether a call is one the token's elevation was approved for: same tool, and SHA-256 of the
 * canonical JSON of the arguments equal to the approved hash. Approvers saw exactly that call.
 */
export function callMatchesBinding(
  bindings: ToolCallDetail[],
  call: { name: string; arguments?: Record<string, unknown> },
): boolean {
  let hash: string;
  try {
    hash = createHash('sha256')
      .update(canonicalJson(call.arguments ?? {}))
      .digest('hex');
  } catch {
    return false;
  }
  return bindings.some((b) => b.tool === call.name && b.arguments_sha256 === hash);
}
