import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database, TicketRow } from '../db/schema.ts';
import type { Catalogue } from '../policy/index.ts';
import type { RoleService } from '../roles/role-service.ts';
import { IneligibleError } from './errors.ts';
import type { ElevationPrincipal, ElevationService } from './service.ts';
import { grantFor, prepareGrant } from './grants.ts';
import { toolCallOf } from './tool-call.ts';
import type { RequestUsers } from '../oidc/request-users.ts';
import { acceptedScopes } from '../oidc/resources.ts';
import { OwnTokenError, type OwnTokenVerifier } from '../tokens/index.ts';
import { JUSTIFICATION_MESSAGES, justificationProblem } from '../http/text.ts';

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

export interface CibaDeps {
  db: Kysely<Database>;
  catalogue: Catalogue;
  roles: RoleService;
  elevation: ElevationService;
  issuer: string;
  /** The server's one verifier of its own tokens (for `login_hint_token`). */
  tokens: OwnTokenVerifier;
  provider: () => Provider;
  users: RequestUsers;
}

/**
 * oidc-provider's `features.ciba` for decoupled elevation (DESIGN §6). Rules:
 * - the user is named only by `login_hint_token` = a current access token of this server issued
 *   to the requesting client, checked by the server's one {@link OwnTokenVerifier}: signature,
 *   expiry, a user who still exists and is enabled, a grant that is still live (revoking it
 *   refuses every token of it as a hint at once), a live elevation when it carries one;
 * - `login_hint` may only be the client's own id: the agent elevates itself;
 * - `id_token_hint` is refused (`invalid_request`): an ID token proves a past sign-in, not a
 *   live grant, and must not go around the rules above;
 * - one `resource` per request (`invalid_target` for more): an elevation is for one MCP server;
 * - `binding_message` carries the justification, under the one justification rule
 *   (`justificationProblem`): required for approval-gated scopes, printable, not blank, at most
 *   200 code points; otherwise `invalid_binding_message` (CIBA §13);
 * - eligibility is checked at once (`access_denied` naming the missing role); elevation with no
 *   approval completes before the response, so the first poll returns the token.
 */
export function cibaFeature(deps: CibaDeps) {
  // Any resource this server knows: the agent's token may be for another MCP server than the
  // one it now elevates for.
  const knownResource = (aud: string) =>
    acceptedScopes(deps.catalogue, deps.issuer, aud) !== undefined;
  return {
    enabled: true,
    deliveryModes: ['poll'],
    async processLoginHintToken(ctx: KoaContextWithOIDC, loginHintToken: string) {
      try {
        const token = await deps.tokens.verify(loginHintToken, {
          audience: knownResource,
          clientId: ctx.oidc.client!.clientId,
          allowSenderConstrained: true,
        });
        return token.subject;
      } catch (err) {
        if (!(err instanceof OwnTokenError)) throw err;
        if (err.code === 'ERR_JWT_EXPIRED')
          throw new errors.ExpiredLoginHintToken('login_hint_token has expired');
        if (err.code === 'ERR_SUBJECT_UNKNOWN' || err.code === 'ERR_SUBJECT_DISABLED')
          throw new errors.UnknownUserId('login_hint_token names an unknown or disabled user');
        throw new errors.InvalidRequest(
          `login_hint_token is not a current access token of this server for this client: ${err.message}`,
        );
      }
    },
    async processLoginHint(ctx: KoaContextWithOIDC, loginHint: string) {
      if (loginHint !== ctx.oidc.client!.clientId)
        throw new errors.InvalidRequest(
          'login_hint must be your own client_id (or use login_hint_token for a user)',
        );
      return loginHint;
    },
    async validateBindingMessage(ctx: KoaContextWithOIDC, bindingMessage?: string) {
      const scopes = String(ctx.oidc.params?.scope ?? '').split(' ');
      const gated = scopes.some((s) => deps.catalogue.scopes[s]?.approval);
      const problem = justificationProblem(bindingMessage, gated);
      if (problem)
        throw new errors.InvalidBindingMessage(
          `binding_message: ${JUSTIFICATION_MESSAGES[problem]}`,
        );
    },
    // Runs before the hint is resolved (oidc-provider's checkCibaContext precedes cibaLoadAccount),
    // so a refused request never reaches the account or a ticket.
    async validateRequestContext(ctx: KoaContextWithOIDC) {
      const params = ctx.oidc.params!;
      if (params.id_token_hint !== undefined)
        throw new errors.InvalidRequest(
          'id_token_hint is not accepted: use login_hint_token (your current access token) or login_hint (your own client_id)',
        );
      if (Array.isArray(params.resource) && params.resource.length > 1)
        throw new errors.InvalidTarget('only one resource may be requested');
    },
    async verifyUserCode(_ctx: KoaContextWithOIDC, _account: unknown, userCode?: string) {
      if (userCode) throw new errors.InvalidUserCode('user_code is not supported');
    },
    async triggerAuthenticationDevice(
      ctx: KoaContextWithOIDC,
      request: any,
      account: { accountId: string },
      client: any,
    ) {
      const provider = deps.provider();
      const principal = await principalOf(deps, ctx, account.accountId, client.clientId);
      const resource = Array.isArray(request.params.resource)
        ? request.params.resource[0]
        : request.params.resource;
      if (typeof resource !== 'string')
        throw new errors.InvalidTarget('the resource parameter is required');
      const scopes = String(request.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const elevated = scopes.filter((s) => deps.catalogue.scopes[s]?.minRole);
      const toolCall = toolCallOf(request.params.authorization_details);
      const rar = toolCall ? { rar: [toolCall] } : undefined;
      if (!elevated.length) {
        await provider.backchannelResult(
          request,
          await grantFor(provider, deps.catalogue, {
            issuer: deps.issuer,
            accountId: account.accountId,
            clientId: client.clientId,
            resource,
            scopes,
          }),
          rar,
        );
        return;
      }
      try {
        // The grant's id is fixed before the elevation is created, so an elevation granted at once
        // is recorded under its grant in the same statement; the grant is saved only then.
        const grant = await prepareGrant(provider, deps.catalogue, {
          issuer: deps.issuer,
          accountId: account.accountId,
          clientId: client.clientId,
          resource,
          scopes,
        });
        const outcome = await deps.elevation.request({
          principal,
          clientId: client.clientId,
          scopes: elevated,
          resource,
          justification: String(request.params.binding_message ?? ''),
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
    },
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

/** Completes (or fails) the CIBA request behind a ticket once the ticket is decided. */
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
    const scopes = String(request.scope ?? '')
      .split(' ')
      .filter(Boolean);
    const rar = ticket.tool_call
      ? {
          rar: [
            {
              type: 'mcp_tool_call',
              tool: ticket.tool_call.tool,
              arguments_sha256: ticket.tool_call.argumentsSha256,
            },
          ],
        }
      : undefined;
    const grant = await grantFor(provider, deps.catalogue, {
      issuer: deps.issuer,
      accountId: request.accountId!,
      clientId: request.clientId!,
      resource: ticket.resource,
      scopes,
    });
    if (ticket.elevation_id)
      await deps.elevation.elevations.attachGrant(ticket.elevation_id, grant.jti);
    await provider.backchannelResult(request, grant, rar);
  } else if (ticket.status !== 'expired') {
    await provider.backchannelResult(
      request,
      new errors.AccessDenied(`the elevation request was ${ticket.status}`),
    );
  }
}

/**
 * `slow_down` (CIBA §11, RFC 8628 §3.5): a poll that comes sooner than `interval` after the
 * previous one for the same request is answered `slow_down` instead of `authorization_pending`.
 * The last poll time lives in the database so that it holds across instances.
 */
export async function pollTooSoon(
  db: Kysely<Database>,
  authReqId: string,
  intervalSeconds: number,
): Promise<boolean> {
  const row = await sql<{ prev: Date | null }>`
    with prev as (select polled_at from ciba_poll where auth_req_id = ${authReqId})
    insert into ciba_poll (auth_req_id, polled_at) values (${authReqId}, now())
    on conflict (auth_req_id) do update set polled_at = now()
    returning (select polled_at from prev) as prev`.execute(db);
  const prev = row.rows[0]?.prev;
  // A little slack for clocks and scheduling: a client waiting exactly `interval` is not punished.
  return (
    prev !== null &&
    prev !== undefined &&
    Date.now() - new Date(prev).getTime() < intervalSeconds * 1000 - 250
  );
}
