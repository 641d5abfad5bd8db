import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RoleService } from '../../roles/role-service.ts';
import { UserRepository, type User } from '../../accounts/users.ts';
import { AppError, notFound } from '../../errors.ts';
import { ADMIN_ROLE, type AdminActor } from '../auth.ts';
import { decodeCursor, PAGE_SIZE, toPage, type Page } from '../pagination.ts';
import type { PageRequest, UserCreate, UserPatch } from '../schemas.ts';
import { adminEvent, isForeignKeyViolation, isUniqueViolation } from './common.ts';

/** Dependencies of {@link UserAdminService}. */
export interface UserAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  roles: Pick<RoleService, 'graph'>;
}

/** A password the server made up: 144 random bits, shown to the admin once. */
const generatePassword = () => randomBytes(18).toString('base64url');

/**
 * User administration through {@link UserRepository}; each change and its audit event commit
 * together. An admin cannot lock themselves out: they cannot delete or disable their own account
 * or take the `admin` role away from themselves (409 `ERR_SELF_LOCKOUT`); another admin can.
 */
export class UserAdminService {
  readonly #deps: UserAdminDeps;
  readonly #users: UserRepository;

  constructor(deps: UserAdminDeps) {
    this.#deps = deps;
    this.#users = new UserRepository(deps.db);
  }

  async list(req: PageRequest): Promise<Page<User>> {
    const limit = req.limit ?? PAGE_SIZE.default;
    const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor);
    return toPage(await this.#users.list({ after, limit: limit + 1 }), limit, (u) => u.email);
  }

  async get(id: string): Promise<User> {
    return (await this.#users.findById(id)) ?? fail(id);
  }

  async create(
    actor: AdminActor,
    input: UserCreate,
  ): Promise<{ user: User; generatedPassword?: string }> {
    const generatedPassword = input.password === undefined ? generatePassword() : undefined;
    const user = await this.#change(async (users, trx) => {
      const created = await users.create({
        ...input,
        password: input.password ?? generatedPassword!,
      });
      await this.#deps.audit.appendIn(trx, [
        adminEvent(
          actor,
          'user.created',
          {
            email: created.email,
            name: created.name,
            roles: created.roles,
            groups: created.groups,
            generatedByServer: !!generatedPassword,
          },
          created.id,
        ),
      ]);
      return created;
    });
    return { user, ...(generatedPassword ? { generatedPassword } : {}) };
  }

  async update(actor: AdminActor, id: string, patch: UserPatch): Promise<User> {
    if (patch.disabled === true) this.#notSelf(actor, id, 'disable');
    return this.#change(async (users, trx) => {
      const before = (await users.findById(id)) ?? fail(id);
      const after = (await users.update(id, patch))!;
      const changed = Object.fromEntries(
        Object.keys(patch).map((k) => [
          k,
          { before: before[k as keyof User], after: after[k as keyof User] },
        ]),
      );
      await this.#deps.audit.appendIn(trx, [adminEvent(actor, 'user.updated', { changed }, id)]);
      return after;
    });
  }

  async remove(actor: AdminActor, id: string): Promise<void> {
    this.#notSelf(actor, id, 'delete');
    await this.#change(async (users, trx) => {
      const before = (await users.findById(id)) ?? fail(id);
      await users.delete(id);
      await this.#deps.audit.appendIn(trx, [
        adminEvent(
          actor,
          'user.deleted',
          { email: before.email, roles: before.roles, groups: before.groups },
          id,
        ),
      ]);
    });
  }

  async setRoles(actor: AdminActor, id: string, roles: string[]): Promise<User> {
    if (
      id === actor.userId &&
      !(await this.#deps.roles.graph()).effective(roles).includes(ADMIN_ROLE)
    ) {
      throw new AppError(
        'ERR_SELF_LOCKOUT',
        `you cannot take the ${ADMIN_ROLE} role away from yourself`,
      );
    }
    return this.#links(actor, id, 'roles', roles, (users) => users.setRoles(id, roles));
  }

  async setGroups(actor: AdminActor, id: string, groups: string[]): Promise<User> {
    return this.#links(actor, id, 'groups', groups, (users) => users.setGroups(id, groups));
  }

  /** Sets a new password; when none is given the server generates one and returns it, once. */
  async resetPassword(
    actor: AdminActor,
    id: string,
    password?: string,
  ): Promise<{ generatedPassword?: string }> {
    const generatedPassword = password === undefined ? generatePassword() : undefined;
    await this.#change(async (users, trx) => {
      if (!(await users.setPassword(id, password ?? generatedPassword!))) fail(id);
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'user.password_reset', { generatedByServer: !!generatedPassword }, id),
      ]);
    });
    return generatedPassword ? { generatedPassword } : {};
  }

  async #links(
    actor: AdminActor,
    id: string,
    kind: 'roles' | 'groups',
    names: string[],
    set: (users: UserRepository) => Promise<boolean>,
  ): Promise<User> {
    return this.#change(async (users, trx) => {
      const before = (await users.findById(id)) ?? fail(id);
      await set(users);
      const after = (await users.findById(id))!;
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, `user.${kind}_set`, { before: before[kind], after: names }, id),
      ]);
      return after;
    });
  }

  #notSelf(actor: AdminActor, id: string, what: string): void {
    if (id === actor.userId)
      throw new AppError('ERR_SELF_LOCKOUT', `you cannot ${what} your own account`);
  }

  // The repository works inside the transaction, so the change and its audit event commit together.
  async #change<T>(
    fn: (users: UserRepository, trx: Transaction<Database>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#deps.db.transaction().execute((trx) => fn(new UserRepository(trx), trx));
    } catch (err) {
      // A role or group deleted between the existence check and the insert.
      if (isForeignKeyViolation(err))
        throw new AppError('ERR_UNKNOWN_REFERENCE', 'a named role or group no longer exists');
      // The same email created by a concurrent request after the repository's check.
      if (isUniqueViolation(err))
        throw new AppError('ERR_CONFLICT', 'a user with this email already exists', {
          field: 'email',
        });
      throw err;
    }
  }
}

function fail(id: string): never {
  throw notFound(`user ${id}`);
}
