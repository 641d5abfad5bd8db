import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { OwnTokenLookups } from './verify.ts';

/**
 * {@link OwnTokenLookups} on the server's database: one indexed read per rule, nothing cached,
 * so a disabled user, a revoked grant or a revoked elevation is seen by the very next call.
 * Grants and clients are read where oidc-provider's adapter keeps them (`oidc_payload`); an
 * expired grant counts as gone, as it does for the adapter.
 */
export function databaseLookups(
  db: Kysely<Database>,
  roles: { effectiveForUser(id: string): Promise<string[]> },
): OwnTokenLookups {
  const payload = (model: string, id: string) =>
    db
      .selectFrom('oidc_payload')
      .select(['payload'])
      .where('model', '=', model)
      .where('id', '=', id)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .executeTakeFirst();
  return {
    findUser: (id) =>
      db.selectFrom('app_user').select(['disabled']).where('id', '=', id).executeTakeFirst(),
    effectiveRoles: (id) => roles.effectiveForUser(id),
    clientExists: async (id) => (await payload('Client', id)) !== undefined,
    async findGrant(id) {
      const p = (await payload('Grant', id))?.payload;
      return p
        ? {
            accountId: p.accountId as string | undefined,
            clientId: p.clientId as string | undefined,
          }
        : undefined;
    },
    findElevation: (id) =>
      db
        .selectFrom('elevation')
        .select(['subject', 'client_id', 'revoked_at', 'expires_at'])
        .where('id', '=', id)
        .executeTakeFirst(),
  };
}
