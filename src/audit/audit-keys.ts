import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';

/**
 * Keys that sign audit checkpoints, and nothing else (never tokens). One is current; rotation
 * adds a new one and erases the private half of the previous ones, whose public halves stay
 * published for good: every checkpoint ever signed must stay verifiable.
 * @module
 */

/** Algorithm of audit keys. */
export const AUDIT_KEY_ALG = 'ES256';

/** A private audit key (JWK with `kid`, `alg`, `use: sig`). */
export type AuditPrivateKey = JWK & { kid: string; alg: string };

async function newKey(): Promise<{ privateJwk: AuditPrivateKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(AUDIT_KEY_ALG, { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const meta = { kid, alg: AUDIT_KEY_ALG, use: 'sig' };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...pub, ...meta },
  };
}

// Key creation and rotation are serialised across instances by the table lock.
async function locked<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>) {
  return db.transaction().execute(async (trx) => {
    await sql`lock table audit_key in share row exclusive mode`.execute(trx);
    return fn(trx);
  });
}

async function insertKey(trx: Transaction<Database>): Promise<AuditPrivateKey> {
  const { privateJwk, publicJwk } = await newKey();
  await trx
    .insertInto('audit_key')
    .values({
      kid: privateJwk.kid,
      alg: AUDIT_KEY_ALG,
      public_jwk: JSON.stringify(publicJwk),
      private_jwk: JSON.stringify(privateJwk),
    })
    .execute();
  return privateJwk;
}

const current = (q: Kysely<Database>) =>
  q
    .selectFrom('audit_key')
    .select('private_jwk')
    .where('private_jwk', 'is not', null)
    .where('superseded_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();

/** The current audit signing key; creates the first one when there is none. */
export async function currentAuditKey(db: Kysely<Database>): Promise<AuditPrivateKey> {
  const row = await current(db);
  if (row?.private_jwk) return row.private_jwk as AuditPrivateKey;
  return locked(db, async (trx) => {
    const again = await current(trx);
    return (again?.private_jwk as AuditPrivateKey | undefined) ?? insertKey(trx);
  });
}

/**
 * Adds a new audit key and retires the others (their private halves are erased). `within` runs in
 * the same transaction (the rotation's audit event commits with it).
 */
export async function rotateAuditKey(
  db: Kysely<Database>,
  within?: (
    trx: Transaction<Database>,
    rotated: { kid: string; retired: string[] },
  ) => Promise<void>,
): Promise<{ kid: string; retired: string[] }> {
  return locked(db, async (trx) => {
    const retired = await trx
      .updateTable('audit_key')
      .set({ superseded_at: new Date(), private_jwk: null })
      .where('superseded_at', 'is', null)
      .returning('kid')
      .execute();
    const key = await insertKey(trx);
    const rotated = { kid: key.kid, retired: retired.map((r) => r.kid) };
    await within?.(trx, rotated);
    return rotated;
  });
}

/** Every audit public key ever used, newest first: what verifies any checkpoint. */
export async function auditJwks(db: Kysely<Database>): Promise<JSONWebKeySet> {
  const rows = await db
    .selectFrom('audit_key')
    .select('public_jwk')
    .orderBy('created_at', 'desc')
    .orderBy('kid')
    .execute();
  return { keys: rows.map((r) => r.public_jwk as JSONWebKeySet['keys'][number]) };
}
