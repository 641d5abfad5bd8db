/**
 * `findAccount(ctx, sub, token)`. Rules:
 * - a user is an account while they exist and are not disabled; claims: `sub`, `email`
 *   (never verified), `name`;
 * - a client acting on its own behalf (CIBA with `login_hint` = its own client_id) is its own
 *   account, and only the client itself can be that account;
 * - the user is read once per request (`RequestUsers`), shared with the other hooks.
 */
import type { Configuration } from 'oidc-provider';
import type { RequestUsers } from '../request-users.ts';

export function findAccount(users: RequestUsers): NonNullable<Configuration['findAccount']> {
  return async (ctx, id) => {
    const user = await users.load(ctx, id);
    if (!user && ctx.oidc?.client?.clientId === id)
      return { accountId: id, claims: async () => ({ sub: id }) };
    if (!user || user.disabled) return undefined;
    return {
      accountId: user.id,
      claims: async () => ({
        sub: user.id,
        email: user.email,
        email_verified: false,
        name: user.name,
      }),
    };
  };
}
