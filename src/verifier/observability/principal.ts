import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal as PolicyPrincipal } from '../../policy/index.ts';

/**
 * Who is calling, as metrics, spans, audit events and rate limits see it: the policy engine's
 * `Principal` (its `roles`; its `subject` is {@link Principal.id}) with what the token adds. Read
 * from the MCP SDK's `AuthInfo`, where the verifier's HTTP layer puts `{ subject, roles, elevation }`
 * in `extra`.
 */
export interface Principal extends Pick<PolicyPrincipal, 'roles'> {
  /** Stable key for the caller: the subject, else the client id, else `"anonymous"`. */
  id: string;
  /** `sub` of the token (a user, or the client itself for client_credentials). */
  subject?: string;
  /** OAuth client (agent) the token was issued to. */
  clientId?: string;
  /** Elevation id when the token is elevated. */
  elevation?: string;
}

/** The policy engine's view of a {@link Principal}: who (its stable key) and its roles. */
export function policyPrincipal(principal: Principal): PolicyPrincipal {
  return { subject: principal.id, roles: principal.roles };
}

/** Extracts the {@link Principal} from `authInfo`; missing or mistyped fields are left out. */
export function principalOf(authInfo: AuthInfo | undefined): Principal {
  const extra = authInfo?.extra ?? {};
  const subject =
    typeof extra.subject === 'string' && extra.subject !== '' ? extra.subject : undefined;
  const clientId =
    authInfo?.clientId !== undefined && authInfo.clientId !== '' ? authInfo.clientId : undefined;
  const roles = Array.isArray(extra.roles)
    ? extra.roles.filter((r): r is string => typeof r === 'string')
    : [];
  const elevation =
    typeof extra.elevation === 'string' && extra.elevation !== '' ? extra.elevation : undefined;
  return { id: subject ?? clientId ?? 'anonymous', subject, clientId, roles, elevation };
}

/**
 * The one role used as a metric label and span attribute: the first of the token's roles, or
 * `"none"`. One value, not the joined list, keeps the label's cardinality at the number of roles.
 */
export function primaryRole(principal: Principal): string {
  return principal.roles[0] ?? 'none';
}
