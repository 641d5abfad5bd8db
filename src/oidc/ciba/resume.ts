/**
 * Completes the CIBA request behind a ticket once the ticket is decided: the elevation service's
 * `afterCommit` hook. Rules:
 * - only tickets of the `ciba` channel that are no longer pending;
 * - approved: a grant of the scopes the request asked for, the elevation recorded under it, and
 *   the bound tool call (if any) carried into the token's `authorization_details`;
 * - denied or cancelled: the request ends with `access_denied`;
 * - expired: nothing — oidc-provider's own expiry of the request (it lives as long as the ticket)
 *   answers `expired_token`.
 */
import { errors, type AuthorizationDetail } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { TicketRow } from '../../db/schema.ts';
import type { ElevationService } from '../../elevation/service.ts';
import { MCP_TOOL_CALL, type Catalogue } from '../../policy/index.ts';
import { scopeList } from '../../elevation/rules/index.ts';
import { grantFor } from '../grants.ts';

export async function resumeCibaRequest(
  deps: { provider: Provider; catalogue: Catalogue; issuer: string; elevation: ElevationService },
  ticket: TicketRow,
): Promise<void> {
  if (ticket.channel !== 'ciba' || ticket.status === 'pending') return;
  const { provider } = deps;
  const request = await provider.BackchannelAuthenticationRequest.find(ticket.ref, {
    ignoreExpiration: true,
  });
  if (!request) return;
  if (ticket.status === 'approved') {
    const rar: AuthorizationDetail[] | undefined = ticket.tool_call
      ? [
          {
            type: MCP_TOOL_CALL,
            tool: ticket.tool_call.tool,
            arguments_sha256: ticket.tool_call.argumentsSha256,
          },
        ]
      : undefined;
    const grant = await grantFor(provider, deps.catalogue, {
      issuer: deps.issuer,
      accountId: request.accountId!,
      clientId: request.clientId!,
      resource: ticket.resource,
      scopes: scopeList(request.scope),
    });
    if (ticket.elevation_id) await deps.elevation.attachGrant(ticket.elevation_id, grant.jti);
    await provider.backchannelResult(request, grant, rar ? { rar } : undefined);
  } else if (ticket.status !== 'expired') {
    await provider.backchannelResult(
      request,
      new errors.AccessDenied(`the elevation request was ${ticket.status}`),
    );
  }
}
