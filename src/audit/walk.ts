import type { Kysely } from 'kysely';
import type { AuditRow, Database } from '../db/schema.ts';
import { GENESIS, hashForm, sealedHash } from './chain.ts';

/**
 * Walks the audit chain in `seq` order and names the first row that fails a check:
 * - `edited`: a row whose content no longer matches its hash (at its `seq`, after its link);
 * - `deleted`: rows missing: a gap in `seq`, even if the rows after were re-hashed to close the
 *   links; or a row whose predecessor is nowhere in the table (rows deleted and the rest
 *   renumbered);
 * - `inserted`: a row that is not part of the chain in front of rows that are (a forged row, or
 *   rows pushed to higher numbers to make room for one);
 * - `reordered`: a row whose predecessor comes after it (numbers swapped or rows moved).
 * `truncated` and `rewritten` need checkpoints: see `verify.ts`.
 * @module
 */

/** The kinds of tampering verification names. */
export type TamperKind =
  'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'rewritten';

/** The first break found. */
export interface ChainBreak {
  kind: TamperKind;
  /** The first `seq` affected (as text: int8). */
  seq: string;
  /** The id of the row at `seq`, when there is one. */
  id?: string;
  /** What was found, in words. */
  reason: string;
}

type Row = Omit<AuditRow, 'seq'> & { seq: number };
/** A position in the chain: an event's `seq` and hash (0 and {@link GENESIS} before the first). */
export type Link = { seq: number; hash: string };

const SEARCH = 1000;
const asRow = (r: AuditRow): Row => ({ ...r, seq: Number(r.seq) });

async function rowAt(db: Kysely<Database>, seq: number): Promise<Row | undefined> {
  const r = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('seq', '=', String(seq))
    .executeTakeFirst();
  return r && asRow(r);
}
async function rowAfter(db: Kysely<Database>, seq: number): Promise<Row | undefined> {
  const r = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('seq', '>', String(seq))
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  return r && asRow(r);
}
/** The `seq` of the row with that hash (a scan: only run once a break was found). */
async function seqOfHash(db: Kysely<Database>, hash: string): Promise<number | undefined> {
  if (hash === GENESIS) return 0;
  const r = await db
    .selectFrom('audit_event')
    .select('seq')
    .where('hash', '=', hash)
    .executeTakeFirst();
  return r ? Number(r.seq) : undefined;
}

/** The `seq` a sealed row was hashed at, if near where it is now. */
function hashedAt(r: Row): number | undefined {
  for (let d = 1; d <= SEARCH; d++)
    for (const s of [r.seq + d, r.seq - d])
      if (s >= 1 && sealedHash(r.prev_hash, s, r) === r.hash) return s;
  return undefined;
}

/** Names the break at row `r`, the first one after the intact `prev`. */
async function classify(db: Kysely<Database>, prev: Link, r: Row): Promise<ChainBreak> {
  const at = (kind: TamperKind, seq: number, reason: string, row: Row | undefined = r) => ({
    kind,
    seq: String(seq),
    ...(row && row.seq === seq ? { id: row.id } : {}),
    reason,
  });
  const form = hashForm(r);
  const gap = r.seq > prev.seq + 1;
  const missing = (first: number) =>
    at('deleted', first, `events ${first}..${r.seq - 1} are missing`, undefined);
  if (form === 'sealed' && gap) return missing(prev.seq + 1);
  if (form) {
    // Intact itself, but not linked to the row before it.
    const linked = await seqOfHash(db, r.prev_hash);
    if (linked !== undefined && linked > r.seq)
      return at('reordered', r.seq, `chained after the event now at seq ${linked}`);
    if (linked !== undefined && linked < prev.seq)
      return at(
        'inserted',
        linked + 1,
        `events ${linked + 1}..${prev.seq} are not part of the chain`,
        await rowAt(db, linked + 1),
      );
    if (gap) return missing(prev.seq + 1);
    return at(
      'inserted',
      prev.seq,
      `the event at seq ${prev.seq} is not the one the next event was chained to`,
      await rowAt(db, prev.seq),
    );
  }
  // Its hash does not match: changed, moved, or a forged row with a made-up hash.
  const was = hashedAt(r);
  if (was !== undefined && was < r.seq)
    return at(
      'inserted',
      was,
      `event ${r.id} was pushed from seq ${was} to ${r.seq}`,
      await rowAt(db, was),
    );
  if (was !== undefined) {
    const linked = await seqOfHash(db, r.prev_hash);
    if (linked !== undefined && linked > r.seq)
      return at(
        'reordered',
        r.seq,
        `event ${r.id} belongs at seq ${was}, after the event now at seq ${linked}`,
      );
    return at(
      'deleted',
      r.seq,
      `events before ${r.id} were deleted and later events renumbered`,
      undefined,
    );
  }
  // Two rows claiming the same predecessor: the one whose hash fails was put in front.
  const next = await rowAfter(db, r.seq);
  if (next && next.prev_hash === prev.hash && hashForm({ ...next, seq: r.seq }) === 'sealed')
    return at('inserted', r.seq, 'a row that is not part of the chain');
  return at('edited', r.seq, 'content does not match its hash');
}

/**
 * Walks the chain from the row after `from` (default: the start) up to `until` (default: the
 * end): events intact, the last intact link, and the first break if any.
 */
export async function walkChain(
  db: Kysely<Database>,
  from: Link = { seq: 0, hash: GENESIS },
  until = Number.MAX_SAFE_INTEGER,
): Promise<{ count: number; last: Link; broken?: ChainBreak }> {
  let prev = from;
  let count = 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_event')
      .selectAll()
      .where('seq', '>', String(prev.seq))
      .where('seq', '<=', String(until))
      .orderBy('seq')
      .limit(1000)
      .execute();
    if (!rows.length) return { count, last: prev };
    for (const raw of rows) {
      const r = asRow(raw);
      const form = hashForm(r);
      // Legacy rows (hashed without seq) may follow a gap; sealed ones never do.
      const dense = form !== 'sealed' || r.seq === prev.seq + 1;
      if (!form || r.prev_hash !== prev.hash || !dense)
        return { count, last: prev, broken: await classify(db, prev, r) };
      prev = { seq: r.seq, hash: r.hash };
      count++;
    }
  }
}
