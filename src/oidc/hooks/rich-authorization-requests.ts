/**
 * `features.richAuthorizationRequests` (RFC 9396): exact tool-call binding (ARCHITECTURE.md §6). Rules:
 * - the one detail type is `mcp_tool_call` (tool name and SHA-256 of its canonical arguments),
 *   validated by `validateToolCallDetail`;
 * - it binds only CIBA requests: the detail is shown to approvers and carried into the token's
 *   `authorization_details`; interactive (authorization code) flows bind no tool call;
 * - grant sources keep no details of their own: a CIBA request gets its binding from
 *   `backchannelResult` once approved (`ciba/resume.ts`);
 * - introspection shows the token's details.
 */
import type { AuthorizationDetail, RichAuthorizationRequestsConfiguration } from 'oidc-provider';
import { MCP_TOOL_CALL } from '../../policy/index.ts';
import { validateToolCallDetail } from '../../elevation/tool-call.ts';
import { CIBA_GRANT } from '../ciba/types.ts';

const detailsOf = (model: unknown) => (model as { rar?: AuthorizationDetail[] } | undefined)?.rar;

export const richAuthorizationRequests: RichAuthorizationRequestsConfiguration = {
  enabled: true,
  types: { [MCP_TOOL_CALL]: { validate: validateToolCallDetail } },
  authorizationDetailsForGrantSource: () => undefined,
  authorizationDetailsForAccessToken: (_ctx, _token, source, grantType) =>
    grantType === CIBA_GRANT ? detailsOf(source) : undefined,
  authorizationDetailsForIntrospection: (_ctx, token) => detailsOf(token),
};
