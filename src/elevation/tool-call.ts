import { errors } from 'oidc-provider';
import { MCP_TOOL_CALL, ToolCallDetailSchema, type ToolCallDetail } from '../policy/index.ts';

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
