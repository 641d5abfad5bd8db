import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.ts';
import type { OutboundGuard } from '../http/outbound.ts';
import { currentAuditKey } from './audit-keys.ts';
import { signCheckpoint } from './checkpoints.ts';
import { appendCheckpoint } from './sinks.ts';
import { walkChain } from './verify.ts';

/** Default cadence: a checkpoint once this many events are not covered by one … */
export const CHECKPOINT_EVERY_EVENTS = 1000;
/** … or once the last one is this old (seconds) and events came after it. */
export const CHECKPOINT_EVERY_SECONDS = 60;

/** What {@link AuditCheckpointer} needs. */
export interface CheckpointerOptions {
  db: Kysely<Database>;
  /** The `iss` of checkpoints. */
  issuer: string;
  /** Events after the last checkpoint that call for a new one. Default {@link CHECKPOINT_EVERY_EVENTS}. */
  everyEvents?: number;
  /** Age in seconds of the last checkpoint that calls for a new one. Default {@link CHECKPOINT_EVERY_SECONDS}. */
  everySeconds?: number;
  /** Folder of the append-only checkpoint files; undefined writes none. */
  dir?: string;
  /** URL each checkpoint is POSTed to (`{"checkpoint": "<jws>", "n": …, "seq": …}`), through `guard`. */
  webhook?: { url: string; guard: OutboundGuard };
  log: Logger;
}

/** A checkpoint as stored (`audit_checkpoint`). */
export interface StoredCheckpoint {
  n: number;
  seq: number;
  hash: string;
  kid: string;
  jws: string;
  createdAt: Date;
}

const stored = (r: {
  n: string | number;
  seq: string | number;
  hash: string;
  kid: string;
  jws: string;
  created_at: Date;
}): StoredCheckpoint => ({
  n: Number(r.n),
  seq: Number(r.seq),
  hash: r.hash,
  kid: r.kid,
  jws: r.jws,
  createdAt: new Date(r.created_at),
});

/** The newest `limit` checkpoints (after `after`, when given), oldest first. */
export async function listCheckpoints(
  db: Kysely<Database>,
  opts: { after?: number; limit: number },
): Promise<StoredCheckpoint[]> {
  let q = db.selectFrom('audit_checkpoint').selectAll();
  if (opts.after !== undefined)
    q = q.where('n', '>', String(opts.after)).orderBy('n', 'asc').limit(opts.limit);
  else q = q.orderBy('n', 'desc').limit(opts.limit);
  const rows = (await q.execute()).map(stored);
  return rows.sort((a, b) => a.n - b.n);
}

/**
 * Signs the audit chain head at a fixed cadence and writes each checkpoint to the database (for
 * `GET /audit/v1/checkpoints`), to its folder and to its webhook. Rules:
 * - a checkpoint is due when events came after the last one (by any instance) and either
 *   `everyEvents` of them did or the last one is `everySeconds` old (the first one: this
 *   instance started that long ago); on {@link stop}, whenever events came after the last one;
 * - instances take turns through a table lock on `audit_checkpoint`; the one holding it signs
 *   only if the last checkpoint is still the one it checked against, so two never sign the same
 *   number (`n` is also the key) and every checkpoint extends the one before it;
 * - it signs only a head that extends the last checkpoint: the event at that checkpoint's `seq`
 *   still has its hash and every event after it is intact. Otherwise it signs nothing and logs
 *   the break once at `error` (an attacker's rewrite is not blessed);
 * - the sinks are written after the commit, in this instance's signing order.
 */
export class AuditCheckpointer {
  readonly #o: CheckpointerOptions & { everyEvents: number; everySeconds: number };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  readonly #started = Date.now();
  #problem: string | undefined;
  #failing = false;
  /** The highest `seq` this instance found intact (when it last signed or verified). */
  verifiedSeq = 0;

  constructor(opts: CheckpointerOptions) {
    this.#o = {
      ...opts,
      everyEvents: opts.everyEvents ?? CHECKPOINT_EVERY_EVENTS,
      everySeconds: opts.everySeconds ?? CHECKPOINT_EVERY_SECONDS,
    };
  }

  /** Checks once a second (or every `everySeconds`, if shorter) whether a checkpoint is due. */
  start(): void {
    if (this.#timer) return;
    const ms = Math.min(1000, this.#o.everySeconds * 1000);
    this.#timer = setInterval(() => void this.run(false), ms);
    this.#timer.unref();
  }

  /** Stops the timer and signs what came after the last checkpoint. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.run(true);
  }

  /**
   * One attempt: signs the head if a checkpoint is due (`force`: whenever events came after the
   * last one). Resolves with the new checkpoint, or undefined. Never rejects: failures are logged.
   */
  run(force: boolean): Promise<StoredCheckpoint | undefined> {
    const next = this.#running.then(() =>
      this.#attempt(force).then(
        (made) => {
          this.#failing = false;
          return made;
        },
        (err) => {
          // Once per outage, not every second of it.
          if (!this.#failing) this.#o.log.warn({ err }, 'audit checkpoint failed; retrying');
          this.#failing = true;
          return undefined;
        },
      ),
    );
    this.#running = next;
    return next;
  }

  async #latest(q: Kysely<Database>): Promise<StoredCheckpoint | undefined> {
    const row = await q
      .selectFrom('audit_checkpoint')
      .selectAll()
      .orderBy('n', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && stored(row);
  }

  /** Logs why nothing is signed, once per distinct reason (the check runs every second). */
  #refuse(reason: string, detail: Record<string, unknown>): undefined {
    if (this.#problem !== reason) this.#o.log.error(detail, reason);
    this.#problem = reason;
    return undefined;
  }

  async #attempt(force: boolean): Promise<StoredCheckpoint | undefined> {
    const { db } = this.#o;
    // The checks read outside any transaction: on the embedded database a transaction holds the
    // only connection, and the first walk after an upgrade may cover the whole chain.
    const last = await this.#latest(db);
    const head = await db
      .selectFrom('audit_event')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const headSeq = Number(head?.seq ?? 0);
    if (!head || (last && headSeq <= last.seq)) {
      if (last && headSeq < last.seq)
        return this.#refuse('audit chain is behind its last checkpoint (truncated); not signing', {
          seq: headSeq,
          checkpoint: last.n,
          checkpointSeq: last.seq,
        });
      return undefined;
    }
    // Before the first checkpoint, time counts from this instance's start.
    const since = last?.createdAt.getTime() ?? this.#started;
    const due =
      force ||
      headSeq - (last?.seq ?? 0) >= this.#o.everyEvents ||
      Date.now() - since >= this.#o.everySeconds * 1000;
    if (!due) return undefined;
    if (last) {
      const at = await db
        .selectFrom('audit_event')
        .select('hash')
        .where('seq', '=', String(last.seq))
        .executeTakeFirst();
      if (at?.hash !== last.hash)
        return this.#refuse(
          'audit chain differs from its last checkpoint (rewritten); not signing',
          {
            checkpoint: last.n,
            seq: last.seq,
          },
        );
    }
    const walked = await walkChain(db, last && { seq: last.seq, hash: last.hash }, headSeq);
    if (walked.broken)
      return this.#refuse('audit chain is broken; not signing a checkpoint', { ...walked.broken });
    this.#problem = undefined;
    const key = await currentAuditKey(db);
    const made = await db.transaction().execute(async (trx) => {
      await sql`lock table audit_checkpoint in share row exclusive mode`.execute(trx);
      // Another instance signed meanwhile: its checkpoint covers this head or the next one will.
      if ((await this.#latest(trx))?.n !== last?.n) return undefined;
      const n = (last?.n ?? 0) + 1;
      const jws = await signCheckpoint(key, {
        iss: this.#o.issuer,
        n,
        seq: headSeq,
        hash: head.hash,
      });
      const createdAt = new Date();
      await trx
        .insertInto('audit_checkpoint')
        .values({ n, seq: headSeq, hash: head.hash, kid: key.kid, jws, created_at: createdAt })
        .execute();
      return { n, seq: headSeq, hash: head.hash, kid: key.kid, jws, createdAt };
    });
    if (!made) return undefined;
    this.verifiedSeq = Math.max(this.verifiedSeq, made.seq);
    if (this.#o.dir) await appendCheckpoint(this.#o.dir, made.jws, made.createdAt);
    if (this.#o.webhook) await this.#post(made);
    return made;
  }

  async #post(c: StoredCheckpoint): Promise<void> {
    const { url, guard } = this.#o.webhook!;
    try {
      const res = await guard.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ checkpoint: c.jws, n: c.n, seq: c.seq }),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      // The database and the files have it; a receiver can fetch what it missed.
      this.#o.log.warn(
        { err: (err as Error).message, n: c.n },
        'audit checkpoint webhook failed; GET /audit/v1/checkpoints?after=<n> has it',
      );
    }
  }
}
