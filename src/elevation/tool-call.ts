import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import { canonicalJson } from '../policy/index.ts';

/** `authorization_details` type binding an elevation to one exact tool call (DESIGN §6). */
export const MCP_TOOL_CALL = 'mcp_tool_call';

/** One `mcp_tool_call` authorization detail: the tool and the SHA-256 (hex) of its canonical arguments. */
export const ToolCallDetailSchema = z.strictObject({
  type: z.literal(MCP_TOOL_CALL),
  tool: z.string().min(1).max(128),
  arguments_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the canonical JSON arguments'),
  locations: z.array(z.string()).optional(),
});

export type ToolCallDetail = z.infer<typeof ToolCallDetailSchema>;

/** SHA-256 (hex) of the canonical JSON (sorted keys, no whitespace) of tool arguments. */
export function argumentsSha256(args: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex');
}

/** oidc-provider's `types` validator for {@link MCP_TOOL_CALL}. */
export function validateToolCallDetail(_ctx: unknown, detail: unknown): void {
  const parsed = ToolCallDetailSchema.safeParse(detail);
  if (!parsed.success) {
    throw new errors.InvalidAuthorizationDetails(
      `mcp_tool_call: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'detail'} ${i.message}`).join('; ')}`,
    );
  }
}

/** The single tool-call binding of a CIBA request's `authorization_details`, if any. */
export function toolCallOf(raw: unknown): ToolCallDetail | undefined {
  if (typeof raw !== 'string') return undefined;
  const details = (JSON.parse(raw) as unknown[]).filter(
    (d) => (d as { type?: string }).type === MCP_TOOL_CALL,
  );
  if (details.length > 1)
    throw new errors.InvalidAuthorizationDetails('at most one mcp_tool_call detail per request');
  return details[0] ? ToolCallDetailSchema.parse(details[0]) : undefined;
}
