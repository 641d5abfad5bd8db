import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';

/** Signing algorithm of access tokens and ID tokens (ARCHITECTURE.md §5). */
export const SIGNING_ALG = 'ES256';

/** A private signing key as oidc-provider's `jwks` option takes it. */
export type PrivateJwk = JWK & { kid: string; alg: string; use: 'sig' };

// Key generation must happen once even when several instances start at the same moment: the
// table lock serialises them, and the second one finds the first one's key.
async function locked<T>(
  db: Kysely<Database>,
  table: 'signing_key' | 'server_secret',
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`lock table ${sql.table(table)} in share row exclusive mode`.execute(trx);
    return fn(trx);
  });
}

async function newKey(): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' };
}

async function insertKey(trx: Transaction<Database>, key: PrivateJwk): Promise<void> {
  await trx
    .insertInto('signing_key')
    .values({ kid: key.kid, alg: key.alg, private_jwk: JSON.stringify(key) })
    .execute();
}

/**
 * Signing keys that are still published, newest first (oidc-provider signs with the first one).
 * Creates the first key when there is none.
 */
export async function loadSigningKeys(db: Kysely<Database>): Promise<PrivateJwk[]> {
  const read = (q: Kysely<Database>) =>
    q
      .selectFrom('signing_key')
      .select(['private_jwk'])
      .where((eb) => eb.or([eb('retire_after', 'is', null), eb('retire_after', '>', new Date())]))
      .orderBy('created_at', 'desc')
      .orderBy('kid')
      .execute();
  let rows = await read(db);
  if (rows.length === 0) {
    rows = await locked(db, 'signing_key', async (trx) => {
      const again = await read(trx);
      if (again.length) return again;
      await insertKey(trx, await newKey());
      return read(trx);
    });
  }
  return rows.map((r) => r.private_jwk as PrivateJwk);
}

/**
 * Adds a new signing key and keeps the previous ones published for `keepSeconds` (at least the
 * longest token lifetime), so tokens they signed keep verifying until they expire. `within` runs
 * in the same transaction (the audit event of the rotation commits with it).
 */
export async function rotateSigningKey(
  db: Kysely<Database>,
  keepSeconds: number,
  within?: (
    trx: Transaction<Database>,
    rotated: { kid: string; retiring: string[] },
  ) => Promise<void>,
): Promise<{ kid: string; retiring: string[] }> {
  const key = await newKey();
  return locked(db, 'signing_key', async (trx) => {
    const now = new Date();
    const retiring = await trx
      .updateTable('signing_key')
      .set({ superseded_at: now, retire_after: new Date(now.getTime() + keepSeconds * 1000) })
      .where('superseded_at', 'is', null)
      .returning('kid')
      .execute();
    await insertKey(trx, key);
    const rotated = { kid: key.kid, retiring: retiring.map((r) => r.kid) };
    await within?.(trx, rotated);
    return rotated;
  });
}

/** Cookie signing keys, generated once and persisted so sessions survive a restart. */
export async function loadCookieKeys(db: Kysely<Database>): Promise<string[]> {
  const read = async (q: Kysely<Database>) =>
    (
      await q
        .selectFrom('server_secret')
        .select('value')
        .where('name', '=', 'cookie_keys')
        .executeTakeFirst()
    )?.value as string[] | undefined;
  return (
    (await read(db)) ??
    locked(db, 'server_secret', async (trx) => {
      const existing = await read(trx);
      if (existing) return existing;
      const keys = [randomBytes(32).toString('base64url')];
      await trx
        .insertInto('server_secret')
        .values({ name: 'cookie_keys', value: JSON.stringify(keys) })
        .execute();
      return keys;
    })
  );
}
