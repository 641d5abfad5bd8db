/**
 * `features.ciba.triggerAuthenticationDevice(ctx, request, account, client)`: where a CIBA request
 * becomes an elevation request (ARCHITECTURE.md §6). Rules:
 * - exactly one `resource` (`invalid_target` without one);
 * - a request for no elevated scope completes at once with a grant of what it asked;
 * - otherwise the elevation service decides: eligibility is checked at once (`access_denied`
 *   naming the missing role); an elevation with no approval completes before the response, so the
 *   first poll returns the token; an approval-gated one opens a ticket, and the request waits for
 *   its decision (`resume.ts`);
 * - an `mcp_tool_call` authorization detail is recorded on the ticket and carried into the token;
 * - the principal is the user the hint named, or the client itself (`login_hint` = its id), with
 *   its directly assigned roles.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { IneligibleError } from '../../elevation/errors.ts';
import { elevatedScopes, scopeList } from '../../elevation/rules/index.ts';
import type { ElevationPrincipal } from '../../elevation/service.ts';
import { toolCallOf } from '../../elevation/tool-call.ts';
import { grantFor, prepareGrant } from '../grants.ts';
import type { CibaCallback, CibaDeps } from './types.ts';

export function triggerAuthenticationDevice(
  deps: CibaDeps,
): CibaCallback<'triggerAuthenticationDevice'> {
  return async (ctx, request, account, client) => {
    const provider = deps.provider();
    const principal = await principalOf(deps, ctx, account.accountId, client.clientId);
    const params = (request.params ?? {}) as { resource?: unknown; [key: string]: unknown };
    const resource = Array.isArray(params.resource) ? params.resource[0] : params.resource;
    if (typeof resource !== 'string')
      throw new errors.InvalidTarget('the resource parameter is required');
    const scopes = scopeList(request.scope);
    const elevated = elevatedScopes(deps.catalogue, scopes);
    const toolCall = toolCallOf(params.authorization_details);
    const rar = toolCall ? { rar: [toolCall] } : undefined;
    const spec = {
      issuer: deps.issuer,
      accountId: account.accountId,
      clientId: client.clientId,
      resource,
      scopes,
    };
    if (!elevated.length) {
      await provider.backchannelResult(
        request,
        await grantFor(provider, deps.catalogue, spec),
        rar,
      );
      return;
    }
    try {
      // The grant's id is fixed before the elevation is created, so an elevation granted at once
      // is recorded under its grant in the same statement; the grant is saved only then.
      const grant = await prepareGrant(provider, deps.catalogue, spec);
      const outcome = await deps.elevation.request({
        principal,
        clientId: client.clientId,
        scopes: elevated,
        resource,
        justification: String(params.binding_message ?? ''),
        channel: 'ciba',
        ref: request.jti,
        toolCall: toolCall
          ? { tool: toolCall.tool, argumentsSha256: toolCall.arguments_sha256 }
          : undefined,
        grantId: grant.jti,
      });
      if (outcome.status === 'granted') {
        await grant.save();
        await provider.backchannelResult(request, grant, rar);
      }
    } catch (err) {
      if (err instanceof IneligibleError) throw new errors.AccessDenied(err.message);
      throw err;
    }
  };
}

async function principalOf(
  deps: CibaDeps,
  ctx: KoaContextWithOIDC,
  accountId: string,
  clientId: string,
): Promise<ElevationPrincipal> {
  if (accountId === clientId) {
    const rows = await deps.db
      .selectFrom('client_role')
      .select('role_name')
      .where('client_id', '=', clientId)
      .execute();
    return { kind: 'client', id: clientId, roles: rows.map((r) => r.role_name) };
  }
  // The user this request already loaded as its account (findAccount).
  const user = await deps.users.load(ctx, accountId);
  return { kind: 'user', id: accountId, roles: user?.roles ?? [] };
}
