/**
 * `extraTokenClaims(ctx, token)`: the `roles` claim of every access token (ARCHITECTURE.md §5). Rules:
 * - a client acting for itself (client_credentials, or CIBA with its own id as the account)
 *   carries its own effective roles;
 * - a user's token carries the user's effective roles (inheritance resolved), read once per
 *   request (the same user object `findAccount` loaded).
 */
import type { Configuration } from 'oidc-provider';
import type { RoleService } from '../../roles/role-service.ts';
import type { RequestUsers } from '../request-users.ts';

export function extraTokenClaims(deps: {
  roles: RoleService;
  users: RequestUsers;
}): NonNullable<Configuration['extraTokenClaims']> {
  return async (ctx, token) => {
    const accountId = 'accountId' in token ? token.accountId : undefined;
    if (!accountId || accountId === token.clientId)
      return { roles: await deps.roles.effectiveForClient(token.clientId!) };
    const user = await deps.users.load(ctx, accountId);
    return { roles: (await deps.roles.graph()).effective(user?.roles ?? []) };
  };
}
