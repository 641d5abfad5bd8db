import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, UserRow } from '../db/schema.ts';
import { AppError, conflict, invalid } from '../errors.ts';
import { hashPassword } from './password.ts';
import { normaliseEmail } from './email.ts';

/** A user as the rest of the server sees it: never the password hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  disabled: boolean;
  attributes: Record<string, unknown>;
  /** Roles held directly: assigned by an administrator or by an upstream's rules. */
  roles: string[];
  groups: string[];
  /** The subset of {@link roles} an upstream's rules grant (re-evaluated at each federated sign-in). */
  federatedRoles: string[];
  /** The subset of {@link groups} an upstream's rules grant. */
  federatedGroups: string[];
  /** Web sessions begun before this instant are over; absent when none was ended. */
  sessionsNotBefore?: Date;
}

export interface NewUserInput {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
  groups?: string[];
  attributes?: Record<string, unknown>;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
// Control, format (zero-width, bidi) and surrogate code points make look-alike addresses.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}]/u;

/** Users, their roles and their approver groups. */
export class UserRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(input: NewUserInput): Promise<User> {
    // Stored in its one normalised spelling: uniqueness and sign-in lookups compare that.
    const email = normaliseEmail(input.email);
    if (!EMAIL.test(email) || HIDDEN.test(email) || email.length > 320)
      throw invalid('email is not a valid address', { field: 'email' });
    if (input.password.length < 8)
      throw invalid('password must be at least 8 characters', { field: 'password' });
    const id = randomUUID();
    const password_hash = await hashPassword(input.password);
    await this.#transaction(async (trx) => {
      const exists = await trx
        .selectFrom('app_user')
        .select('id')
        .where('email', '=', email)
        .executeTakeFirst();
      if (exists) throw conflict('a user with this email already exists', { field: 'email' });
      await trx
        .insertInto('app_user')
        .values({
          id,
          email,
          name: input.name ?? '',
          password_hash,
          attributes: JSON.stringify(input.attributes ?? {}),
        })
        .execute();
      if (input.roles?.length) {
        await assertKnown(trx, 'role', input.roles);
        await trx
          .insertInto('user_role')
          .values(input.roles.map((role_name) => ({ user_id: id, role_name })))
          .execute();
      }
      if (input.groups?.length) {
        await assertKnown(trx, 'approver_group', input.groups);
        await trx
          .insertInto('group_member')
          .values(input.groups.map((group_name) => ({ user_id: id, group_name })))
          .execute();
      }
    });
    return (await this.findById(id))!;
  }

  /** Changes name, disabled flag or attributes (replaced as a whole). Returns the user, or undefined when there is none. */
  async update(
    id: string,
    patch: { name?: string; disabled?: boolean; attributes?: Record<string, unknown> },
  ): Promise<User | undefined> {
    const set = {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      ...(patch.attributes !== undefined ? { attributes: JSON.stringify(patch.attributes) } : {}),
    };
    const row = await this.#db
      .updateTable('app_user')
      // Disabling ends the web sessions too, so enabling again does not revive copies of them.
      .set({
        ...set,
        ...(patch.disabled ? { sessions_not_before: new Date() } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst();
    return row ? this.findById(id) : undefined;
  }

  /**
   * Ends every web session of the user begun before `at` (ms precision), on every instance and
   * in every browser, copies of the cookie included: what sign-out does. False when there is no
   * such user.
   */
  async endWebSessions(id: string, at = new Date()): Promise<boolean> {
    const row = await this.#db
      .updateTable('app_user')
      .set({ sessions_not_before: at })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes a user (their role and group memberships go with them). False when there was none. */
  async delete(id: string): Promise<boolean> {
    const res = await this.#db.deleteFrom('app_user').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  /**
   * Replaces the roles an administrator assigned; every role must exist. Roles an upstream's rules
   * grant stay (federation re-evaluates them); naming one here makes it an administrator's
   * assignment, which federation then leaves alone. False when there is no such user.
   */
  async setRoles(id: string, roles: readonly string[]): Promise<boolean> {
    return this.#replaceLinks(id, 'role', roles);
  }

  /** Replaces the approver groups an administrator assigned, as {@link setRoles} does roles. */
  async setGroups(id: string, groups: readonly string[]): Promise<boolean> {
    return this.#replaceLinks(id, 'approver_group', groups);
  }

  /** Sets a new password (same rules as {@link create}). False when there is no such user. */
  async setPassword(id: string, password: string): Promise<boolean> {
    if (password.length < 8)
      throw invalid('password must be at least 8 characters', { field: 'password' });
    const password_hash = await hashPassword(password);
    const row = await this.#db
      .updateTable('app_user')
      // A new password ends the account's web sessions begun with the old one.
      .set({ password_hash, sessions_not_before: new Date(), updated_at: sql`now()` })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async #replaceLinks(
    id: string,
    table: 'role' | 'approver_group',
    names: readonly string[],
  ): Promise<boolean> {
    const unique = [...new Set(names)];
    return this.#transaction(async (trx) => {
      if (!(await trx.selectFrom('app_user').select('id').where('id', '=', id).executeTakeFirst()))
        return false;
      if (unique.length) await assertKnown(trx, table, unique);
      if (table === 'role') {
        await trx
          .deleteFrom('user_role')
          .where('user_id', '=', id)
          .where('source', 'is', null)
          .execute();
        if (unique.length)
          await trx
            .insertInto('user_role')
            .values(unique.map((role_name) => ({ user_id: id, role_name })))
            .onConflict((oc) => oc.columns(['user_id', 'role_name']).doUpdateSet({ source: null }))
            .execute();
      } else {
        await trx
          .deleteFrom('group_member')
          .where('user_id', '=', id)
          .where('source', 'is', null)
          .execute();
        if (unique.length)
          await trx
            .insertInto('group_member')
            .values(unique.map((group_name) => ({ user_id: id, group_name })))
            .onConflict((oc) => oc.columns(['group_name', 'user_id']).doUpdateSet({ source: null }))
            .execute();
      }
      return true;
    });
  }

  // Inside a caller's transaction (an admin service recording its audit event with the change),
  // reuse it: kysely cannot nest transactions, and PGlite's single connection would deadlock.
  #transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#db.isTransaction ? fn(this.#db) : this.#db.transaction().execute(fn);
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('app_user')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The row with its password hash, for the sign-in service only; any spelling of the email. */
  async findCredentials(email: string): Promise<UserRow | undefined> {
    return this.#db
      .selectFrom('app_user')
      .selectAll()
      .where('email', '=', normaliseEmail(email))
      .executeTakeFirst();
  }

  /** The user with their roles and groups, in one statement (it runs on every token request for a user). */
  async findById(id: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('app_user')
      .selectAll()
      .select([
        sql<
          string[]
        >`coalesce((select json_agg(r.role_name order by r.role_name) from user_role r where r.user_id = app_user.id), '[]'::json)`.as(
          'role_names',
        ),
        sql<
          string[]
        >`coalesce((select json_agg(g.group_name order by g.group_name) from group_member g where g.user_id = app_user.id), '[]'::json)`.as(
          'group_names',
        ),
        sql<
          string[]
        >`coalesce((select json_agg(r.role_name order by r.role_name) from user_role r where r.user_id = app_user.id and r.source is not null), '[]'::json)`.as(
          'federated_role_names',
        ),
        sql<
          string[]
        >`coalesce((select json_agg(g.group_name order by g.group_name) from group_member g where g.user_id = app_user.id and g.source is not null), '[]'::json)`.as(
          'federated_group_names',
        ),
      ])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const {
      role_names: roles,
      group_names: groups,
      federated_role_names: federatedRoles,
      federated_group_names: federatedGroups,
      ...user
    } = row;
    return present(user, { roles, groups, federatedRoles, federatedGroups });
  }

  async list(opts: { after?: string; limit?: number } = {}): Promise<User[]> {
    let q = this.#db
      .selectFrom('app_user')
      .selectAll()
      .orderBy('email')
      .limit(opts.limit ?? 100);
    if (opts.after) q = q.where('email', '>', opts.after);
    const rows = await q.execute();
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const [roles, groups] = await Promise.all([
      this.#db
        .selectFrom('user_role')
        .select(['user_id', 'role_name', 'source'])
        .where('user_id', 'in', ids)
        .execute(),
      this.#db
        .selectFrom('group_member')
        .select(['user_id', 'group_name', 'source'])
        .where('user_id', 'in', ids)
        .execute(),
    ]);
    return rows.map((r) => {
      const mine = roles.filter((x) => x.user_id === r.id);
      const member = groups.filter((x) => x.user_id === r.id);
      return present(r, {
        roles: mine.map((x) => x.role_name).sort(),
        groups: member.map((x) => x.group_name).sort(),
        federatedRoles: mine
          .filter((x) => x.source !== null)
          .map((x) => x.role_name)
          .sort(),
        federatedGroups: member
          .filter((x) => x.source !== null)
          .map((x) => x.group_name)
          .sort(),
      });
    });
  }

  async rolesOf(userId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_role')
      .select('role_name')
      .where('user_id', '=', userId)
      .orderBy('role_name')
      .execute();
    return rows.map((r) => r.role_name);
  }

  async groupsOf(userId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('group_member')
      .select('group_name')
      .where('user_id', '=', userId)
      .orderBy('group_name')
      .execute();
    return rows.map((r) => r.group_name);
  }
}

function present(
  row: UserRow,
  links: Pick<User, 'roles' | 'groups' | 'federatedRoles' | 'federatedGroups'>,
): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    disabled: row.disabled,
    attributes: row.attributes,
    ...(row.sessions_not_before ? { sessionsNotBefore: new Date(row.sessions_not_before) } : {}),
    ...links,
  };
}

async function assertKnown(
  q: Kysely<Database>,
  table: 'role' | 'approver_group',
  names: string[],
): Promise<void> {
  const found = await q.selectFrom(table).select('name').where('name', 'in', names).execute();
  const known = new Set(found.map((r) => r.name));
  const missing = names.filter((n) => !known.has(n));
  if (missing.length) {
    const what = table === 'role' ? 'role' : 'group';
    throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown ${what}: ${missing.join(', ')}`, {
      [what]: missing,
    });
  }
}
