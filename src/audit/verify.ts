import type { JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import type { AuditRow, Database } from '../db/schema.ts';
import { GENESIS, hashForm, sealedHash } from './chain.ts';
import {
  verifyCheckpoints,
  type RefusedCheckpoint,
  type VerifiedCheckpoint,
} from './checkpoints.ts';

/**
 * What `audit verify` (CLI and admin API) finds, and what it calls it. Walking the chain in `seq`
 * order, the first row that fails a check is classified:
 * - `edited`: a row whose content no longer matches its hash (at its `seq`, after its link);
 * - `deleted`: rows missing: a gap in `seq`, even if the rows after were re-hashed to close the
 *   links; or a row whose predecessor is nowhere in the table (rows deleted and the rest
 *   renumbered);
 * - `inserted`: a row that is not part of the chain in front of rows that are (a forged row, or
 *   rows pushed to higher numbers to make room for one);
 * - `reordered`: a row whose predecessor comes after it (numbers swapped or rows moved).
 * Then against the signed checkpoints:
 * - `truncated`: the head is behind a checkpoint (the last events deleted);
 * - `rewritten`: the event at a checkpoint's `seq` no longer has the hash the checkpoint signed
 *   (the chain was re-hashed from somewhere before it), or a checkpoint was refused (signed by
 *   another key, a bad signature, or an older one replayed as the latest).
 * The lowest `seq` wins when several are found.
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

/** Checkpoints and the public keys that verify them (a JWKS). */
export interface Checkpoints {
  /** Compact JWS checkpoints in the order of their source (oldest first). */
  list: string[];
  jwks: JSONWebKeySet;
  /** The issuer they must carry; default: whichever the first accepted one carries. */
  issuer?: string;
  /** Where they came from (a path, a URL, `database`), for reports. */
  name?: string;
}

/** Where a verification finds checkpoints: each source is checked for replays on its own. */
export type CheckpointSource = () => Promise<Checkpoints[]>;

/** The outcome of a verification. */
export interface AuditVerification {
  ok: boolean;
  /** Events verified before the first break (all of them when ok). */
  count: number;
  /** The last event in the table, whatever its state. */
  head: { seq: string; hash: string } | null;
  checkpoints: {
    /** Checkpoints accepted and compared with the chain. */
    checked: number;
    /** The newest accepted checkpoint. */
    latest: { n: number; seq: string; time: string; kid: string } | null;
    refused: Array<RefusedCheckpoint & { source?: string }>;
  };
  brokenAt?: ChainBreak;
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

/** Checks accepted checkpoints against the chain: the first one it contradicts. */
async function compare(
  db: Kysely<Database>,
  checkpoints: VerifiedCheckpoint[],
  head: Link | undefined,
): Promise<ChainBreak | undefined> {
  const sorted = [...checkpoints].sort((a, b) => a.seq - b.seq);
  let matched = 0;
  for (let i = 0; i < sorted.length; i += 500) {
    const chunk = sorted.slice(i, i + 500);
    const stored = new Map(
      (
        await db
          .selectFrom('audit_event')
          .select(['seq', 'hash', 'id'])
          .where(
            'seq',
            'in',
            chunk.map((c) => String(c.seq)),
          )
          .execute()
      ).map((r) => [Number(r.seq), r]),
    );
    for (const c of chunk) {
      if (c.seq === 0) continue;
      if (!head || c.seq > head.seq)
        return {
          kind: 'truncated',
          seq: String((head?.seq ?? 0) + 1),
          reason: `the chain ends at seq ${head?.seq ?? 0}, before checkpoint ${c.n} at seq ${c.seq}`,
        };
      const row = stored.get(c.seq);
      if (row?.hash !== c.hash)
        return {
          kind: 'rewritten',
          seq: String(c.seq),
          ...(row ? { id: row.id } : {}),
          reason: `the event at seq ${c.seq} differs from checkpoint ${c.n}; the chain was re-hashed after seq ${matched}`,
        };
      matched = c.seq;
    }
  }
  return undefined;
}

/**
 * Verifies the audit chain in `db`, and against `checkpoints` when given. Reads the table only;
 * the caller flushes pending events first if it wants them included.
 */
export async function verifyAudit(
  db: Kysely<Database>,
  sources: Checkpoints[] = [],
): Promise<AuditVerification> {
  const top = await db
    .selectFrom('audit_event')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const head = top ? { seq: Number(top.seq), hash: top.hash } : undefined;
  const { count, broken } = await walkChain(db);
  const accepted: VerifiedCheckpoint[] = [];
  const refused: Array<RefusedCheckpoint & { source?: string }> = [];
  for (const s of sources) {
    const checked = await verifyCheckpoints(s.list, s.jwks, s.issuer);
    // The same checkpoint in several sources (a file and the database) counts once.
    const known = new Set(accepted.map((c) => c.jws));
    accepted.push(...checked.accepted.filter((c) => !known.has(c.jws)));
    refused.push(...checked.refused.map((r) => ({ ...r, ...(s.name ? { source: s.name } : {}) })));
  }
  const found = [broken, await compare(db, accepted, head)];
  for (const r of refused)
    found.push({
      kind: 'rewritten',
      seq: String(r.seq ?? 0),
      reason: `checkpoint ${r.n ?? `#${r.index + 1}`}${r.source ? ` of ${r.source}` : ''} refused: ${r.reason}`,
    });
  const first = found
    .filter((b): b is ChainBreak => b !== undefined)
    .sort((a, b) => Number(a.seq) - Number(b.seq))[0];
  const latest = accepted.reduce<VerifiedCheckpoint | undefined>(
    (a, c) => (!a || c.n > a.n ? c : a),
    undefined,
  );
  return {
    ok: !first,
    count,
    head: top ? { seq: String(top.seq), hash: top.hash } : null,
    checkpoints: {
      checked: accepted.length,
      latest: latest
        ? {
            n: latest.n,
            seq: String(latest.seq),
            time: new Date(latest.iat * 1000).toISOString(),
            kid: latest.kid,
          }
        : null,
      refused,
    },
    ...(first ? { brokenAt: first } : {}),
  };
}
