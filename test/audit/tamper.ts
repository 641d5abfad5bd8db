import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { GENESIS, sealedHash } from '../../src/audit/chain.ts';

/**
 * What an attacker with write access to the database can do to the audit chain, in SQL. The hash
 * algorithm is public (README), so re-chaining rows is within their reach; only the signed
 * checkpoints kept outside the database are not.
 */

type Db = Kysely<Database>;

export async function chainRows(db: Db) {
  const rows = await db.selectFrom('audit_event').selectAll().orderBy('seq').execute();
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

/** Recomputes `prev_hash` and `hash` of every row from `fromSeq` on, keeping their seqs. */
export async function rechainFrom(db: Db, fromSeq: number): Promise<void> {
  const rows = await chainRows(db);
  let prev = rows.filter((r) => r.seq < fromSeq).at(-1)?.hash ?? GENESIS;
  for (const r of rows.filter((r) => r.seq >= fromSeq)) {
    const hash = sealedHash(prev, r.seq, r);
    await sql`update audit_event set prev_hash = ${prev}, hash = ${hash} where seq = ${r.seq}`.execute(
      db,
    );
    prev = hash;
  }
}

/** Moves every row from `fromSeq` on up by one, leaving `fromSeq` free. */
export async function shiftUp(db: Db, fromSeq: number): Promise<void> {
  await sql`update audit_event set seq = -seq where seq >= ${fromSeq}`.execute(db);
  await sql`update audit_event set seq = -seq + 1 where seq < 0`.execute(db);
}

/** Swaps the seqs of two rows. */
export async function swap(db: Db, a: number, b: number): Promise<void> {
  await sql`update audit_event set seq = ${-a} where seq = ${a}`.execute(db);
  await sql`update audit_event set seq = ${a} where seq = ${b}`.execute(db);
  await sql`update audit_event set seq = ${b} where seq = ${-a}`.execute(db);
}

/** Inserts a forged event at `seq`, hashed correctly after the row before it. */
export async function insertForged(db: Db, seq: number): Promise<string> {
  const before = (await chainRows(db)).filter((r) => r.seq < seq).at(-1);
  const prev = before?.hash ?? GENESIS;
  const e = {
    id: `forged-${seq}`,
    time: new Date(),
    actor: 'attacker',
    action: 'user.created',
    result: 'success',
    subject: null,
    client_id: null,
    resource: null,
    data: { forged: true },
  };
  const hash = sealedHash(prev, seq, e);
  await sql`insert into audit_event (seq, id, time, actor, action, result, data, prev_hash, hash)
    values (${seq}, ${e.id}, ${e.time}, ${e.actor}, ${e.action}, ${e.result}, ${JSON.stringify(e.data)}::jsonb, ${prev}, ${hash})`.execute(
    db,
  );
  return e.id;
}
