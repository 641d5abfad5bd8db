import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** Roles and groups of a user, split by where they came from. */
export interface AccessSnapshot {
  roles: string[];
  groups: string[];
}

/**
 * Upstream identities and the access upstreams grant (tables `federated_identity`, and the
 * `source` column of `user_role` and `group_member`). Private to `federation/`.
 */
export class FederatedIdentities {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The local user of (issuer, subject), touching its last sign-in time; undefined when new. */
  async signedIn(issuer: string, subject: string): Promise<string | undefined> {
    const row = await this.#db
      .updateTable('federated_identity')
      .set({ last_sign_in_at: sql`now()` })
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .returning('user_id')
      .executeTakeFirst();
    return row?.user_id;
  }

  /** Records that (issuer, subject) is `userId`; false when another sign-in recorded it first. */
  async link(
    issuer: string,
    subject: string,
    userId: string,
    upstreamId: string,
  ): Promise<boolean> {
    const res = await this.#db
      .insertInto('federated_identity')
      .values({ issuer, subject, user_id: userId, upstream_id: upstreamId })
      .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /**
   * Makes the roles and groups `upstreamId` grants `userId` exactly `granted`, in one transaction,
   * leaving every administrator's assignment alone (an assignment an administrator made stays
   * theirs even when the upstream grants it too). Names that no longer exist are skipped.
   * @returns the user's whole access before and after.
   */
  async syncAccess(
    userId: string,
    upstreamId: string,
    granted: AccessSnapshot,
  ): Promise<{ before: AccessSnapshot; after: AccessSnapshot }> {
    return this.#db.transaction().execute(async (trx) => {
      // The user's row lock orders concurrent sign-ins of one person.
      await trx.selectFrom('app_user').select('id').where('id', '=', userId).forUpdate().execute();
      const before = await access(trx, userId);
      const roles = await existing(trx, 'role', granted.roles);
      const groups = await existing(trx, 'approver_group', granted.groups);
      let q = trx
        .deleteFrom('user_role')
        .where('user_id', '=', userId)
        .where('source', '=', upstreamId);
      if (roles.length) q = q.where('role_name', 'not in', roles);
      await q.execute();
      let g = trx
        .deleteFrom('group_member')
        .where('user_id', '=', userId)
        .where('source', '=', upstreamId);
      if (groups.length) g = g.where('group_name', 'not in', groups);
      await g.execute();
      if (roles.length)
        await trx
          .insertInto('user_role')
          .values(roles.map((role_name) => ({ user_id: userId, role_name, source: upstreamId })))
          .onConflict((oc) => oc.columns(['user_id', 'role_name']).doNothing())
          .execute();
      if (groups.length)
        await trx
          .insertInto('group_member')
          .values(groups.map((group_name) => ({ user_id: userId, group_name, source: upstreamId })))
          .onConflict((oc) => oc.columns(['group_name', 'user_id']).doNothing())
          .execute();
      return { before, after: await access(trx, userId) };
    });
  }
}

async function access(q: Kysely<Database>, userId: string): Promise<AccessSnapshot> {
  // One after the other: a transaction has one connection.
  const roles = await q
    .selectFrom('user_role')
    .select('role_name')
    .where('user_id', '=', userId)
    .execute();
  const groups = await q
    .selectFrom('group_member')
    .select('group_name')
    .where('user_id', '=', userId)
    .execute();
  return {
    roles: roles.map((r) => r.role_name).sort(),
    groups: groups.map((g) => g.group_name).sort(),
  };
}

async function existing(
  q: Kysely<Database>,
  table: 'role' | 'approver_group',
  names: string[],
): Promise<string[]> {
  if (!names.length) return [];
  const rows = await q.selectFrom(table).select('name').where('name', 'in', names).execute();
  return rows.map((r) => r.name).sort();
}
