import type { JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import {
  verifyCheckpoints,
  type RefusedCheckpoint,
  type VerifiedCheckpoint,
} from './checkpoints.ts';
import { walkChain, type ChainBreak, type Link } from './walk.ts';

export { walkChain, type ChainBreak, type Link, type TamperKind } from './walk.ts';

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
