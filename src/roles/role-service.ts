import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { buildRoleGraph, RoleSchema, type Role, type RoleGraph } from '../policy/index.ts';

/** How long a role graph is reused before the database is asked again (changes by other instances). */
const GRAPH_TTL_MS = 5_000;

/**
 * The role graph built from the `role` table, cached briefly; this instance's own role changes
 * call {@link RoleService.invalidate} so they apply at once.
 */
export class RoleService {
  readonly #db: Kysely<Database>;
  #cached?: { at: number; graph: Promise<RoleGraph>; roles: Promise<Role[]> };

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  async roles(): Promise<Role[]> {
    return this.#load().roles;
  }

  async graph(): Promise<RoleGraph> {
    return this.#load().graph;
  }

  /** Effective role names (own roles plus everything they inherit) of a user. */
  async effectiveForUser(userId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('user_role').select('role_name').where('user_id', '=', userId).execute();
    return (await this.graph()).effective(rows.map((r) => r.role_name));
  }

  /** Effective role names of a client acting on its own behalf. */
  async effectiveForClient(clientId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('client_role').select('role_name').where('client_id', '=', clientId).execute();
    return (await this.graph()).effective(rows.map((r) => r.role_name));
  }

  #load() {
    if (this.#cached && Date.now() - this.#cached.at < GRAPH_TTL_MS) return this.#cached;
    const roles = this.#db.selectFrom('role').select(['name', 'description', 'inherits', 'permissions']).orderBy('name').execute()
      .then((rows) => rows.map((r) => RoleSchema.parse({ name: r.name, description: r.description, inherits: r.inherits, permissions: r.permissions })));
    const graph = roles.then((r) => buildRoleGraph(r));
    // A failed load must not stay cached.
    graph.catch(() => this.invalidate());
    this.#cached = { at: Date.now(), roles, graph };
    return this.#cached;
  }
}
