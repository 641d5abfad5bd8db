import type { Kysely, Transaction } from 'kysely';
import type { Adapter, default as Provider } from 'oidc-provider';
import type { Database } from '../../db/schema.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { AppError, notFound } from '../../errors.ts';
import { newClientSecret, registerClient, SECRET_AUTH_METHODS } from '../../oidc/clients.ts';
import { sameResource, type Catalogue } from '../../policy/index.ts';
import type { AdminActor } from '../auth.ts';
import { decodeCursor, PAGE_SIZE, toPage, type Page } from '../pagination.ts';
import type { ClientCreate, PageRequest } from '../schemas.ts';
import { adminEvent, isForeignKeyViolation } from './common.ts';

/** A row of the `client_scope` table (migration 2026-11-24T01-00_admin). */
export interface ClientScopeTable {
  client_id: string;
  scope: string;
}

type Db = Kysely<Database & { client_scope: ClientScopeTable }>;

/** A registered client as the admin API shows it: never its secret. */
export interface ClientRecord {
  id: string;
  name?: string;
  grantTypes: string[];
  redirectUris: string[];
  tokenEndpointAuthMethod: string;
  roles: string[];
  /** Catalogue scopes the client may ask for; empty means no restriction. */
  scopes: string[];
  /** The MCP server resource the client is (`mcp_resource`), for audit ingest. */
  mcpResource?: string;
}

/** Dependencies of {@link ClientAdminService}. */
export interface ClientAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  provider: Provider;
  catalogue: Catalogue;
  /** Its cache of client roles is cleared when an admin changes a client's roles. */
  roles?: { invalidate(): void };
}

/**
 * The catalogue scopes a client may ask for; `[]` means it is not restricted. For the provider's
 * resource-server hook to intersect requested scopes with.
 */
export async function allowedScopesOf(db: Kysely<Database>, clientId: string): Promise<string[]> {
  const rows = await db
    .withTables<{ client_scope: ClientScopeTable }>()
    .selectFrom('client_scope')
    .select('scope')
    .where('client_id', '=', clientId)
    .orderBy('scope')
    .execute();
  return rows.map((r) => r.scope);
}

/**
 * OAuth clients (agents): registered through {@link registerClient}, so the admin API accepts
 * exactly the metadata the token endpoint will; roles and allowed scopes kept beside them.
 */
export class ClientAdminService {
  readonly #deps: ClientAdminDeps;
  readonly #db: Db;

  constructor(deps: ClientAdminDeps) {
    this.#deps = deps;
    this.#db = deps.db.withTables<{ client_scope: ClientScopeTable }>();
  }

  async list(req: PageRequest): Promise<Page<ClientRecord>> {
    const limit = req.limit ?? PAGE_SIZE.default;
    let q = this.#db
      .selectFrom('oidc_payload')
      .select(['id', 'payload'])
      .where('model', '=', 'Client')
      .orderBy('id')
      .limit(limit + 1);
    if (req.cursor !== undefined) q = q.where('id', '>', decodeCursor(req.cursor));
    return toPage(await this.#records(this.#db, await q.execute()), limit, (c) => c.id);
  }

  async get(id: string): Promise<ClientRecord> {
    return (await this.#find(this.#db, id)) ?? fail(id);
  }

  /**
   * Registers a client; a generated secret is returned here and never again. `secret` is the
   * operator's own choice (command line); the admin API always lets the server generate it.
   */
  async create(
    actor: AdminActor,
    input: ClientCreate,
    secret?: string,
  ): Promise<{ client: ClientRecord; clientSecret?: string }> {
    const scopes = this.#knownScopes(input.scopes ?? []);
    // Stored as the catalogue spells it, so ingest records the same resource string as tokens carry.
    const mcpResource =
      input.mcpResource === undefined
        ? undefined
        : Object.keys(this.#deps.catalogue.resources).find((r) =>
            sameResource(r, input.mcpResource!),
          );
    if (input.mcpResource !== undefined && !mcpResource) {
      throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown resource: ${input.mcpResource}`, {
        resource: [input.mcpResource],
      });
    }
    const { clientSecret } = await registerClient(this.#deps.provider, this.#deps.db, {
      id: input.id,
      secret,
      name: input.name,
      redirectUris: input.redirectUris,
      grantTypes: input.grantTypes,
      roles: input.roles,
      mcpResource,
      authMethod: input.tokenEndpointAuthMethod,
      jwksUri: input.jwksUri,
      jwks: input.jwks,
    });
    try {
      // registerClient commits on its own; the scopes and the audit event follow in one transaction.
      const client = await this.#change(async (trx) => {
        if (scopes.length)
          await trx
            .insertInto('client_scope')
            .values(scopes.map((scope) => ({ client_id: input.id, scope })))
            .execute();
        const created = (await this.#find(trx, input.id))!;
        await this.#deps.audit.appendIn(trx, [
          adminEvent(actor, 'client.created', {
            client: input.id,
            name: input.name,
            grantTypes: created.grantTypes,
            redirectUris: created.redirectUris,
            roles: created.roles,
            scopes,
          }),
        ]);
        return created;
      });
      return { client, ...(clientSecret ? { clientSecret } : {}) };
    } catch (err) {
      // Never leave behind a client without the scope restriction the admin asked for.
      await this.#deleteRows(this.#db, input.id)
        .then(() => this.#forget(input.id))
        .catch(() => {});
      throw err;
    }
  }

  async setRoles(actor: AdminActor, id: string, roles: string[]): Promise<ClientRecord> {
    const unique = [...new Set(roles)];
    return this.#change(async (trx) => {
      const before = (await this.#find(trx, id)) ?? fail(id);
      const known = new Set(
        unique.length
          ? (await trx.selectFrom('role').select('name').where('name', 'in', unique).execute()).map(
              (r) => r.name,
            )
          : [],
      );
      const missing = unique.filter((r) => !known.has(r));
      if (missing.length)
        throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown role: ${missing.join(', ')}`, {
          role: missing,
        });
      await trx.deleteFrom('client_role').where('client_id', '=', id).execute();
      if (unique.length)
        await trx
          .insertInto('client_role')
          .values(unique.map((role_name) => ({ client_id: id, role_name })))
          .execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'client.roles_set', { client: id, before: before.roles, after: unique }),
      ]);
      return (await this.#find(trx, id))!;
    }).finally(() => this.#deps.roles?.invalidate());
  }

  async setScopes(actor: AdminActor, id: string, scopes: string[]): Promise<ClientRecord> {
    const known = this.#knownScopes(scopes);
    return this.#change(async (trx) => {
      const before = (await this.#find(trx, id)) ?? fail(id);
      await trx.deleteFrom('client_scope').where('client_id', '=', id).execute();
      if (known.length)
        await trx
          .insertInto('client_scope')
          .values(known.map((scope) => ({ client_id: id, scope })))
          .execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'client.scopes_set', { client: id, before: before.scopes, after: known }),
      ]);
      return (await this.#find(trx, id))!;
    });
  }

  /**
   * Gives a client that authenticates with a shared secret (`client_secret_basic` or
   * `client_secret_post`) a new generated secret, returned here and never again; the old one stops
   * working at once on this instance and, on others, within the adapter's client cache time.
   * Audited as `client.secret_rotated` (without the secret).
   * @throws AppError `ERR_NOT_FOUND` for an unknown client, `ERR_INVALID_REQUEST` for a client
   * without a secret (`private_key_jwt`, `none`).
   */
  async rotateSecret(
    actor: AdminActor,
    id: string,
  ): Promise<{ client: ClientRecord; clientSecret: string }> {
    const clientSecret = newClientSecret();
    let stored: Record<string, unknown> = {};
    const client = await this.#change(async (trx) => {
      const row = await trx
        .selectFrom('oidc_payload')
        .select('payload')
        .where('model', '=', 'Client')
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) fail(id);
      const metadata = (
        typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload
      ) as Record<string, unknown>;
      const method = String(metadata.token_endpoint_auth_method ?? 'client_secret_basic');
      if (!SECRET_AUTH_METHODS.includes(method))
        throw new AppError(
          'ERR_INVALID_REQUEST',
          `client ${id} authenticates with ${method} and has no secret to rotate`,
        );
      stored = { ...metadata, client_secret: clientSecret };
      await trx
        .updateTable('oidc_payload')
        .set({ payload: JSON.stringify(stored) })
        .where('model', '=', 'Client')
        .where('id', '=', id)
        .execute();
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'client.secret_rotated', { client: id, method }),
      ]);
      return (await this.#find(trx, id))!;
    });
    // Written again through the provider's adapter, the same payload: its write evicts this
    // instance's cached copy, so the old secret stops here at once.
    await this.#clientAdapter().upsert(id, stored as never, 0);
    return { client, clientSecret };
  }

  /**
   * Deletes a client with its roles and scopes. Its JWT access tokens stay valid until they expire;
   * other instances may serve its cached metadata for up to the adapter's client cache time.
   */
  async remove(actor: AdminActor, id: string): Promise<void> {
    await this.#change(async (trx) => {
      const before = (await this.#find(trx, id)) ?? fail(id);
      await this.#deleteRows(trx, id);
      await this.#deps.audit.appendIn(trx, [
        adminEvent(actor, 'client.deleted', {
          client: id,
          roles: before.roles,
          scopes: before.scopes,
        }),
      ]);
    });
    await this.#forget(id);
  }

  // The provider's adapter caches client metadata; its own destroy (idempotent once the row is
  // gone) evicts this instance's copy, so the deleted client stops authenticating at once.
  async #forget(id: string): Promise<void> {
    await this.#clientAdapter().destroy(id);
  }

  #clientAdapter(): Adapter {
    // `Client.adapter` exists at run time but is missing from the type definitions.
    return (this.#deps.provider.Client as unknown as { adapter: Adapter }).adapter;
  }

  /** Scope names deduplicated; every one must be in the catalogue (400 naming the others). */
  #knownScopes(scopes: string[]): string[] {
    const unique = [...new Set(scopes)];
    const missing = unique.filter((s) => !Object.hasOwn(this.#deps.catalogue.scopes, s));
    if (missing.length)
      throw new AppError('ERR_UNKNOWN_REFERENCE', `unknown scope: ${missing.join(', ')}`, {
        scope: missing,
      });
    return unique;
  }

  async #deleteRows(q: Db, id: string): Promise<void> {
    await q.deleteFrom('client_scope').where('client_id', '=', id).execute();
    await q.deleteFrom('client_role').where('client_id', '=', id).execute();
    await q.deleteFrom('oidc_payload').where('model', '=', 'Client').where('id', '=', id).execute();
  }

  async #find(q: Db, id: string): Promise<ClientRecord | undefined> {
    const row = await q
      .selectFrom('oidc_payload')
      .select(['id', 'payload'])
      .where('model', '=', 'Client')
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? (await this.#records(q, [row]))[0] : undefined;
  }

  async #records(
    q: Db,
    rows: Array<{ id: string; payload: Record<string, unknown> }>,
  ): Promise<ClientRecord[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const roles = await q
      .selectFrom('client_role')
      .select(['client_id', 'role_name'])
      .where('client_id', 'in', ids)
      .orderBy('role_name')
      .execute();
    const scopes = await q
      .selectFrom('client_scope')
      .select(['client_id', 'scope'])
      .where('client_id', 'in', ids)
      .orderBy('scope')
      .execute();
    return rows.map(({ id, payload: p }) => ({
      id,
      ...(typeof p.client_name === 'string' ? { name: p.client_name } : {}),
      grantTypes: strings(p.grant_types),
      redirectUris: strings(p.redirect_uris),
      tokenEndpointAuthMethod:
        typeof p.token_endpoint_auth_method === 'string'
          ? p.token_endpoint_auth_method
          : 'client_secret_basic',
      roles: roles.filter((r) => r.client_id === id).map((r) => r.role_name),
      scopes: scopes.filter((s) => s.client_id === id).map((s) => s.scope),
      ...(typeof p.mcp_resource === 'string' ? { mcpResource: p.mcp_resource } : {}),
    }));
  }

  async #change<T>(
    fn: (trx: Transaction<Database & { client_scope: ClientScopeTable }>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#db.transaction().execute(fn);
    } catch (err) {
      if (isForeignKeyViolation(err))
        throw new AppError('ERR_UNKNOWN_REFERENCE', 'a named role no longer exists');
      throw err;
    }
  }
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function fail(id: string): never {
  throw notFound(`client ${id}`);
}
