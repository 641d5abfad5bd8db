import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RoleService } from '../../roles/role-service.ts';
import { AppError, notFound } from '../../errors.ts';
import {
  checkRoleChange,
  PolicyError,
  RoleSchema,
  type Catalogue,
  type Role,
} from '../../policy/index.ts';
import type { AdminActor } from '../auth.ts';
import type { RolePatch, RoleReplace } from '../schemas.ts';
import { adminEvent, asDate, isForeignKeyViolation } from './common.ts';

/** A role as stored, with its timestamps. */
export interface RoleRecord extends Role {
  createdAt: Date;
  updatedAt: Date;
}

/** Dependencies of {@link RoleAdminService}. */
export interface RoleAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  /** Told after every change, so tokens and the policy bundle use the new roles at once. */
  roles: Pick<RoleService, 'invalidate'>;
  /** Scopes whose `minRole` names a role keep that role from being deleted. */
  catalogue: Catalogue;
}

/** The policy engine's verdict on a role set, with its own code and the roles involved. */
function policyProblem(err: PolicyError): AppError {
  switch (err.code) {
    case 'ERR_ROLE_CYCLE':
      return new AppError(err.code, err.message, { cycle: err.data.cycle });
    case 'ERR_ROLE_UNKNOWN_PARENT':
      return new AppError(err.code, err.message, {
        role: err.data.role,
        parent: err.data.parent,
      });
    default:
      return new AppError(err.code, err.message, { ...err.data });
  }
}

async function readRoles(q: Kysely<Database>): Promise<RoleRecord[]> {
  const rows = await q.selectFrom('role').selectAll().orderBy('name').execute();
  return rows.map((r) => ({
    ...RoleSchema.parse({
      name: r.name,
      description: r.description,
      inherits: r.inherits,
      permissions: r.permissions,
    }),
    createdAt: asDate(r.created_at),
    updatedAt: asDate(r.updated_at),
  }));
}

const definition = (r: Role): Role => ({
  name: r.name,
  description: r.description ?? '',
  inherits: r.inherits,
  permissions: r.permissions,
});

/**
 * Role administration. Every change runs in one transaction that (1) locks the role table, so
 * two concurrent edits that are each fine alone cannot together form a cycle, (2) checks the
 * would-be role set with the policy engine, (3) writes, (4) appends its audit event.
 */
export class RoleAdminService {
  readonly #deps: RoleAdminDeps;

  constructor(deps: RoleAdminDeps) {
    this.#deps = deps;
  }

  async list(): Promise<RoleRecord[]> {
    return readRoles(this.#deps.db);
  }

  async get(name: string): Promise<RoleRecord> {
    const role = (await readRoles(this.#deps.db)).find((r) => r.name === name);
    if (!role) throw notFound(`role ${name}`);
    return role;
  }

  async create(actor: AdminActor, role: Role): Promise<RoleRecord> {
    return this.#save(actor, 'role.created', role.name, (existing) => {
      if (existing)
        throw new AppError('ERR_ROLE_EXISTS', `role ${role.name} already exists`, {
          role: role.name,
        });
      return role;
    });
  }

  async replace(actor: AdminActor, name: string, body: RoleReplace): Promise<RoleRecord> {
    return this.#save(actor, 'role.replaced', name, (existing) => {
      if (!existing) throw notFound(`role ${name}`);
      return {
        name,
        description: body.description ?? '',
        inherits: body.inherits,
        permissions: body.permissions,
      };
    });
  }

  async update(actor: AdminActor, name: string, patch: RolePatch): Promise<RoleRecord> {
    return this.#save(actor, 'role.updated', name, (existing) => {
      if (!existing) throw notFound(`role ${name}`);
      return {
        name,
        description: patch.description ?? existing.description,
        inherits: patch.inherits ?? existing.inherits,
        permissions: patch.permissions ?? existing.permissions,
      };
    });
  }

  /**
   * Deletes a role nothing depends on. Refused (409 `ERR_ROLE_IN_USE`, naming the dependents) while
   * another role inherits it, a user or client holds it, or a catalogue scope names it as `minRole`
   * (the catalogue would no longer load).
   */
  async remove(actor: AdminActor, name: string): Promise<void> {
    await this.#transaction(async (trx, all) => {
      const role = all.find((r) => r.name === name);
      if (!role) throw notFound(`role ${name}`);
      // Every reason at once, so an admin sees all that must change before the role can go.
      const reasons: string[] = [];
      const detail: Record<string, unknown> = {};
      const inheritedBy = all.filter((r) => r.inherits.includes(name)).map((r) => r.name);
      if (inheritedBy.length) {
        reasons.push(`is inherited by ${inheritedBy.join(', ')}`);
        detail.inheritedBy = inheritedBy;
      }
      const count = async (table: 'user_role' | 'client_role') =>
        Number(
          (
            await trx
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .where('role_name', '=', name)
              .executeTakeFirstOrThrow()
          ).n,
        );
      const [users, clients] = [await count('user_role'), await count('client_role')];
      if (users || clients) {
        reasons.push(`is assigned to ${users} user(s) and ${clients} client(s)`);
        Object.assign(detail, { users, clients });
      }
      const scopes = Object.entries(this.#deps.catalogue.scopes)
        .filter(([, s]) => s.minRole === name)
        .map(([scope]) => scope);
      if (scopes.length) {
        reasons.push(`is the minRole of scope(s) ${scopes.join(', ')}`);
        detail.scopes = scopes;
      }
      if (reasons.length) throw inUse(name, reasons.join('; '), detail);
      try {
        await trx.deleteFrom('role').where('name', '=', name).execute();
      } catch (err) {
        // Assigned by a concurrent request between the count and the delete.
        if (isForeignKeyViolation(err)) throw inUse(name, 'was assigned concurrently', {});
        throw err;
      }
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'role.deleted', { role: name, before: definition(role) }),
      ]);
    });
  }

  async #save(
    actor: AdminActor,
    action: string,
    name: string,
    next: (existing: RoleRecord | undefined) => Role,
  ): Promise<RoleRecord> {
    return this.#transaction(async (trx, all) => {
      const existing = all.find((r) => r.name === name);
      const role = next(existing);
      try {
        checkRoleChange(all, role);
      } catch (err) {
        if (err instanceof PolicyError) throw policyProblem(err);
        throw err;
      }
      const values = {
        description: role.description ?? '',
        inherits: JSON.stringify(role.inherits),
        permissions: JSON.stringify(role.permissions),
      };
      if (existing)
        await trx
          .updateTable('role')
          .set({ ...values, updated_at: sql`now()` })
          .where('name', '=', name)
          .execute();
      else
        await trx
          .insertInto('role')
          .values({ name, ...values })
          .execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, action, {
          role: name,
          ...(existing ? { before: definition(existing) } : {}),
          after: definition(role),
        }),
      ]);
      return (await readRoles(trx)).find((r) => r.name === name)!;
    });
  }

  async #transaction<T>(
    fn: (trx: Transaction<Database>, all: RoleRecord[]) => Promise<T>,
  ): Promise<T> {
    const result = await this.#deps.db.transaction().execute(async (trx) => {
      await sql`lock table role in share row exclusive mode`.execute(trx);
      return fn(trx, await readRoles(trx));
    });
    this.#deps.roles.invalidate();
    return result;
  }
}

function inUse(role: string, why: string, detail: Record<string, unknown>): AppError {
  return new AppError('ERR_ROLE_IN_USE', `role ${role} ${why}`, { role, ...detail });
}
