import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { AppError, notFound } from '../../errors.ts';
import type { Catalogue } from '../../policy/index.ts';
import type { AdminActor } from '../auth.ts';
import type { GroupCreate } from '../schemas.ts';
import { adminEvent, asDate, isForeignKeyViolation, isUniqueViolation } from './common.ts';

/** An approver group with its members' user ids. */
export interface GroupRecord {
  name: string;
  description: string;
  members: string[];
  createdAt: Date;
}

/** Dependencies of {@link GroupAdminService}. */
export interface GroupAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  /** Scopes whose approval names a group keep that group from being deleted. */
  catalogue: Catalogue;
}

async function readGroups(q: Kysely<Database>, name?: string): Promise<GroupRecord[]> {
  let groups = q.selectFrom('approver_group').selectAll().orderBy('name');
  let members = q.selectFrom('group_member').select(['group_name', 'user_id']).orderBy('user_id');
  if (name !== undefined) {
    groups = groups.where('name', '=', name);
    members = members.where('group_name', '=', name);
  }
  const [rows, links] = [await groups.execute(), await members.execute()];
  return rows.map((g) => ({
    name: g.name,
    description: g.description,
    members: links.filter((m) => m.group_name === g.name).map((m) => m.user_id),
    createdAt: asDate(g.created_at),
  }));
}

/** Approver groups (ARCHITECTURE.md §4). Each change and its audit event commit together. */
export class GroupAdminService {
  readonly #deps: GroupAdminDeps;

  constructor(deps: GroupAdminDeps) {
    this.#deps = deps;
  }

  async list(): Promise<GroupRecord[]> {
    return readGroups(this.#deps.db);
  }

  async get(name: string): Promise<GroupRecord> {
    return (await readGroups(this.#deps.db, name))[0] ?? fail(name);
  }

  async create(actor: AdminActor, input: GroupCreate): Promise<GroupRecord> {
    return this.#change(async (trx) => {
      if ((await readGroups(trx, input.name)).length) {
        throw new AppError('ERR_GROUP_EXISTS', `group ${input.name} already exists`, {
          group: input.name,
        });
      }
      await trx
        .insertInto('approver_group')
        .values({ name: input.name, description: input.description ?? '' })
        .execute();
      await setMembers(trx, input.name, input.members ?? []);
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'group.created', {
          group: input.name,
          description: input.description ?? '',
          members: input.members ?? [],
        }),
      ]);
      return (await readGroups(trx, input.name))[0]!;
    });
  }

  async update(
    actor: AdminActor,
    name: string,
    patch: { description: string },
  ): Promise<GroupRecord> {
    return this.#change(async (trx) => {
      const before = (await readGroups(trx, name))[0] ?? fail(name);
      await trx
        .updateTable('approver_group')
        .set({ description: patch.description })
        .where('name', '=', name)
        .execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'group.updated', {
          group: name,
          before: { description: before.description },
          after: patch,
        }),
      ]);
      return (await readGroups(trx, name))[0]!;
    });
  }

  /** Deletes a group, unless a catalogue scope needs its approvers (409 `ERR_GROUP_IN_USE`). */
  async remove(actor: AdminActor, name: string): Promise<void> {
    const scopes = Object.entries(this.#deps.catalogue.scopes)
      .filter(([, s]) => s.approval?.groups.includes(name))
      .map(([scope]) => scope);
    if (scopes.length) {
      throw new AppError(
        'ERR_GROUP_IN_USE',
        `group ${name} approves scope(s) ${scopes.join(', ')}`,
        { group: name, scopes },
      );
    }
    await this.#change(async (trx) => {
      const before = (await readGroups(trx, name))[0] ?? fail(name);
      await trx.deleteFrom('approver_group').where('name', '=', name).execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'group.deleted', { group: name, members: before.members }),
      ]);
    });
  }

  async setMembers(actor: AdminActor, name: string, members: string[]): Promise<GroupRecord> {
    return this.#change(async (trx) => {
      const before = (await readGroups(trx, name))[0] ?? fail(name);
      await setMembers(trx, name, members);
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'group.members_set', {
          group: name,
          before: before.members,
          after: [...new Set(members)],
        }),
      ]);
      return (await readGroups(trx, name))[0]!;
    });
  }

  async #change<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    try {
      return await this.#deps.db.transaction().execute(fn);
    } catch (err) {
      if (isForeignKeyViolation(err))
        throw new AppError('ERR_UNKNOWN_REFERENCE', 'a named user no longer exists');
      // Created by a concurrent request after our existence check.
      if (isUniqueViolation(err))
        throw new AppError('ERR_GROUP_EXISTS', 'the group already exists');
      throw err;
    }
  }
}

/** Replaces a group's members; every member must be an existing user (400 naming the others). */
async function setMembers(
  trx: Transaction<Database>,
  group: string,
  members: string[],
): Promise<void> {
  const ids = [...new Set(members)];
  if (ids.length) {
    const known = new Set(
      (await trx.selectFrom('app_user').select('id').where('id', 'in', ids).execute()).map(
        (r) => r.id,
      ),
    );
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length)
      throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown user: ${missing.join(', ')}`, {
        user: missing,
      });
  }
  await trx.deleteFrom('group_member').where('group_name', '=', group).execute();
  if (ids.length)
    await trx
      .insertInto('group_member')
      .values(ids.map((user_id) => ({ group_name: group, user_id })))
      .execute();
}

function fail(name: string): never {
  throw notFound(`group ${name}`);
}
