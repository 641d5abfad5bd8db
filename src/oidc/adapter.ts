import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import { DEFAULTS } from '../config/defaults.ts';

/** How long a client's metadata is served from memory before the database is asked again. */
const CLIENT_CACHE_MS = DEFAULTS.clientCacheTtlMs;
/** Most clients held in memory; the least recently used goes first. */
const CLIENT_CACHE_MAX = DEFAULTS.clientCacheMaxEntries;

/**
 * oidc-provider storage on PostgreSQL/PGlite: one row per artifact in `oidc_payload`, jsonb payload,
 * expiry and consumption as columns so that they can be queried and cleaned up.
 *
 * Rules it keeps:
 * - an expired row is never returned, even before the cleanup job has deleted it;
 * - `consume` stamps the row once; oidc-provider sees `consumed` and refuses reuse (codes,
 *   rotated refresh tokens);
 * - `revokeByGrantId` removes every artifact of a grant in one statement;
 * - Client rows are cached in memory for {@link CLIENT_CACHE_MS}, at most {@link CLIENT_CACHE_MAX}
 *   of them, so a token request does not cost a client lookup every time; this instance's own
 *   writes invalidate the cache at once.
 */
export function createAdapterFactory(db: Kysely<Database>) {
  const clientCache = new LRUCache<string, AdapterPayload>({
    max: CLIENT_CACHE_MAX,
    ttl: CLIENT_CACHE_MS,
  });

  return class PostgresAdapter implements Adapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const row = {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        user_code: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
        consumed_at: null,
      };
      await db
        .insertInto('oidc_payload')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['model', 'id']).doUpdateSet({
            payload: row.payload,
            grant_id: row.grant_id,
            user_code: row.user_code,
            uid: row.uid,
            expires_at: row.expires_at,
          }),
        )
        .execute();
      if (this.model === 'Client') clientCache.delete(id);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') {
        const hit = clientCache.get(id);
        if (hit) return hit;
        const payload = await this.#findBy('id', id);
        // Only found clients are cached: a client registered a moment ago (by the CLI, the admin
        // API or another instance) must work on its first request.
        if (payload) clientCache.set(id, payload);
        return payload;
      }
      return this.#findBy('id', id);
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#findBy('uid', uid);
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findBy('user_code', userCode);
    }

    async consume(id: string): Promise<void> {
      await db
        .updateTable('oidc_payload')
        .set({ consumed_at: new Date() })
        .where('model', '=', this.model)
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .execute();
    }

    async destroy(id: string): Promise<void> {
      await db
        .deleteFrom('oidc_payload')
        .where('model', '=', this.model)
        .where('id', '=', id)
        .execute();
      if (this.model === 'Client') clientCache.delete(id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_payload').where('grant_id', '=', grantId).execute();
    }

    async #findBy(
      column: 'id' | 'uid' | 'user_code',
      value: string,
    ): Promise<AdapterPayload | undefined> {
      const row = await db
        .selectFrom('oidc_payload')
        .select(['payload', 'consumed_at', 'expires_at'])
        .where('model', '=', this.model)
        .where(column, '=', value)
        .executeTakeFirst();
      if (!row) return undefined;
      if (row.expires_at && row.expires_at.getTime() <= Date.now()) return undefined;
      const payload = row.payload as AdapterPayload;
      return row.consumed_at
        ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) }
        : payload;
    }
  };
}

/** Deletes expired artifacts in bounded batches; returns how many rows went. */
export async function deleteExpiredPayloads(db: Kysely<Database>, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const res = await db
      .deleteFrom('oidc_payload')
      .where((eb) =>
        eb(
          'id',
          'in',
          eb
            .selectFrom('oidc_payload as p')
            .select('p.id')
            .where('p.expires_at', '<', new Date())
            .limit(batch),
        ),
      )
      .where('expires_at', '<', new Date())
      .executeTakeFirst();
    const n = Number(res.numDeletedRows ?? 0);
    total += n;
    if (n < batch) return total;
  }
}
