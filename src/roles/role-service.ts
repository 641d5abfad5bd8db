import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/schema.ts';
import { buildRoleGraph, RoleSchema, type Role, type RoleGraph } from '../policy/index.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** How long a role graph is reused before the database is asked again (changes by other instances). */
const GRAPH_TTL_MS = DEFAULTS.roleGraphTtlMs;

/**
 * The role graph built from the `role` table, cached briefly; this instance's own role changes
 * call {@link RoleService.invalidate} so they apply at once.
 */
export class RoleService {
  readonly #db: Kysely<Database>;
  #cached?: { at: number; graph: Promise<RoleGraph>; roles: Promise<Role[]> };
  // Directly assigned roles per client, for the client_credentials hot path: a token request then
  // costs no query. Same staleness bound as the graph across instances.
  readonly #clientRoles = new LRUCache<string, string[]>({ max: 10_000, ttl: GRAPH_TTL_MS });

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Forgets the cached graph and client roles (after this instance changed roles or assignments). */
  invalidate(): void {
    this.#cached = undefined;
    this.#clientRoles.clear();
  }

  async roles(): Promise<Role[]> {
    return this.#load().roles;
  }

  async graph(): Promise<RoleGraph> {
    return this.#load().graph;
  }

  /** Effective role names (own roles plus everything they inherit) of a user. */
  async effectiveForUser(userId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('user_role')
      .select('role_name')
      .where('user_id', '=', userId)
      .execute();
    return (await this.graph()).effective(rows.map((r) => r.role_name));
  }

  /** Effective role names of a client acting on its own behalf. */
  async effectiveForClient(clientId: string): Promise<string[]> {
    let roles = this.#clientRoles.get(clientId);
    if (roles === undefined) {
      const rows = await this.#db
        .selectFrom('client_role')
        .select('role_name')
        .where('client_id', '=', clientId)
        .execute();
      roles = rows.map((r) => r.role_name);
      this.#clientRoles.set(clientId, roles);
    }
    return (await this.graph()).effective(roles);
  }

  #load() {
    if (this.#cached && Date.now() - this.#cached.at < GRAPH_TTL_MS) return this.#cached;
    const roles = this.#db
      .selectFrom('role')
      .select(['name', 'description', 'inherits', 'permissions'])
      .orderBy('name')
      .execute()
      .then((rows) =>
        rows.map((r) =>
          RoleSchema.parse({
            name: r.name,
            description: r.description,
            inherits: r.inherits,
            permissions: r.permissions,
          }),
        ),
      );
    const graph = roles.then((r) => buildRoleGraph(r));
    // A failed load must not stay cached.
    graph.catch(() => this.invalidate());
    this.#cached = { at: Date.now(), roles, graph };
    return this.#cached;
  }
}
