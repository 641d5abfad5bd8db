import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type QueryCreator, type Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { redact } from '../verifier/observability/redact.ts';
import { GENESIS, sealedHash } from './chain.ts';
import { verifyAudit, type AuditVerification, type CheckpointSource } from './verify.ts';

/** One audit event as services write it. */
export interface AuditInput {
  action: string;
  result: 'success' | 'failure' | 'denied' | string;
  actor?: string | null;
  subject?: string | null;
  clientId?: string | null;
  resource?: string | null;
  data?: Record<string, unknown>;
  /** Caller-chosen id (ingest is idempotent by it); a UUID when absent. */
  id?: string;
  time?: Date;
}

export { GENESIS, eventHash } from './chain.ts';

/** Inbox rows for events: ids assigned, duplicates within the call dropped, data redacted. */
function inboxRows(events: AuditInput[]) {
  const seen = new Set<string>();
  const rows = [];
  for (const e of events) {
    const id = e.id ?? randomUUID();
    if (seen.has(id)) continue;
    seen.add(id);
    rows.push({
      id,
      time: e.time ?? new Date(),
      actor: e.actor ?? null,
      action: e.action,
      result: e.result,
      subject: e.subject ?? null,
      client_id: e.clientId ?? null,
      resource: e.resource ?? null,
      data: JSON.stringify(redact(e.data ?? {})),
    });
  }
  return rows;
}

/** How long after an append the chainer runs, coalescing the appends of that moment into one batch. */
const CHAIN_DELAY_MS = 20;
/** Events moved into the chain per transaction. */
const CHAIN_BATCH = 1000;

/**
 * Append-only, hash-chained audit log (tamper-evident: changing, removing or reordering any row
 * breaks the chain from there on). Rules it keeps:
 * - an event is written to `audit_inbox` inside the transaction that makes the change it records
 *   (one insert, no lock), so it commits, or rolls back, with that change;
 * - a chainer moves inbox events into `audit_event` in batches, in inbox order, each numbered
 *   its predecessor's `seq` plus one and hashed over its predecessor's hash and its own `seq`
 *   ({@link sealedHash}): a gap in `seq` is a deletion, never a skipped number. Chain passes are serialised by a table lock on `audit_event`, which only
 *   they write, so the chain never forks, even across instances; every instance chains what any
 *   instance wrote, so an instance that dies leaves nothing unchained;
 * - it runs shortly after each append ({@link CHAIN_DELAY_MS}), on demand ({@link flush}: every
 *   reader of the log flushes first, so it reads its own writes), and every second while
 *   {@link start}ed;
 * - event ids are unique across inbox and chain: appending an id that exists is a no-op
 *   (idempotent ingest);
 * - `data` is redacted before it is stored.
 */
export class AuditLog {
  readonly #db: Kysely<Database>;
  /** The chain pass in progress (or the last one), so passes of this instance never overlap. */
  #passes: Promise<unknown> = Promise.resolve();
  #kick: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #onError: (err: unknown) => void;
  #checkpoints: CheckpointSource | undefined;
  #onVerified: (v: AuditVerification) => void;
  #closed = false;

  /**
   * @param opts.onError Told about background chaining failures (they are retried). Default none.
   * @param opts.checkpoints Where {@link verify} finds signed checkpoints and the keys that verify
   *   them. Default: none (the chain alone is verified).
   * @param opts.onVerified Told each outcome of {@link verify} (metrics). Default none.
   */
  constructor(
    db: Kysely<Database>,
    opts: {
      onError?: (err: unknown) => void;
      checkpoints?: CheckpointSource;
      onVerified?: (v: AuditVerification) => void;
    } = {},
  ) {
    this.#db = db;
    this.#onError = opts.onError ?? (() => {});
    this.#checkpoints = opts.checkpoints;
    this.#onVerified = opts.onVerified ?? (() => {});
  }

  /** Appends events (outside any transaction); events whose id already exists are skipped. Returns how many were new. */
  async append(...events: AuditInput[]): Promise<number> {
    // Caller-chosen ids need a transaction (see appendIn); more than one insert: all or nothing.
    const transaction = events.length > 500 || events.some((e) => e.id !== undefined);
    return transaction
      ? this.#db.transaction().execute((trx) => this.appendIn(trx, events))
      : this.appendIn(this.#db, events);
  }

  /**
   * As {@link append}, inside the caller's transaction (the event commits with the change it
   * records). Events with caller-chosen ids need `trx` to be a transaction.
   */
  async appendIn(
    trx: Kysely<Database> | Transaction<Database>,
    events: AuditInput[],
  ): Promise<number> {
    if (!events.length) return 0;
    // Caller-chosen ids (ingest) may already be chained; generated ones cannot be. A chain pass
    // moving one of them from the inbox right now would make it look new in both tables: wait
    // for passes to finish (the lock conflicts with theirs, not with other appends).
    const given = events.map((e) => e.id).filter((id): id is string => id !== undefined);
    if (given.length) await sql`lock table audit_event in share mode`.execute(trx);
    const chained = given.length
      ? new Set(
          (
            await trx
              .selectFrom('audit_event')
              .select('id')
              .where('id', 'in', [...new Set(given)])
              .execute()
          ).map((r) => r.id),
        )
      : new Set<string>();
    const rows = inboxRows(events.filter((e) => e.id === undefined || !chained.has(e.id)));
    let added = 0;
    for (let i = 0; i < rows.length; i += 500) {
      const inserted = await trx
        .insertInto('audit_inbox')
        .values(rows.slice(i, i + 500))
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      added += inserted.length;
    }
    this.#schedule();
    return added;
  }

  /**
   * Writes events in the same statement as a change, for the hottest paths: `write` builds its
   * statement on a query creator that already inserts the events (a data-modifying CTE), so the
   * change and its events commit together without a transaction of their own.
   */
  async appendWith<R>(
    events: Array<AuditInput & { id?: undefined }>,
    write: (db: QueryCreator<Database>) => Promise<R>,
  ): Promise<R> {
    const rows = inboxRows(events);
    const result = await write(
      this.#db.with('audit_written', (db) => db.insertInto('audit_inbox').values(rows)),
    );
    this.#schedule();
    return result;
  }

  /** Chains every event written so far (by any instance). */
  async flush(): Promise<void> {
    const run = this.#passes.then(() => this.#chainAll());
    this.#passes = run.catch(() => {});
    await run;
  }

  /** Chains every second too, for events whose own chaining was cut short (crash, outage). */
  start(): void {
    if (this.#sweep || this.#closed) return;
    this.#sweep = setInterval(() => this.#background(), 1_000);
    this.#sweep.unref();
  }

  /** Stops the timers and chains what is left. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    clearTimeout(this.#kick);
    await this.flush().catch((err) => this.#onError(err));
  }

  #schedule(): void {
    if (this.#kick || this.#closed) return;
    this.#kick = setTimeout(() => {
      this.#kick = undefined;
      this.#background();
    }, CHAIN_DELAY_MS);
    this.#kick.unref();
  }

  #background(): void {
    this.flush().catch((err) => this.#onError(err));
  }

  async #chainAll(): Promise<void> {
    // Nothing to do is the common case of the periodic pass: no lock for it.
    if (!(await this.#db.selectFrom('audit_inbox').select('seq').limit(1).executeTakeFirst()))
      return;
    while ((await this.#chainBatch()) === CHAIN_BATCH);
  }

  /** Moves one batch from the inbox into the chain; returns how many inbox rows it took. */
  async #chainBatch(): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      await sql`lock table audit_event in share row exclusive mode`.execute(trx);
      const pending = await trx
        .selectFrom('audit_inbox')
        .selectAll()
        .orderBy('seq')
        .limit(CHAIN_BATCH)
        .execute();
      if (!pending.length) return 0;
      const chained = new Set(
        (
          await trx
            .selectFrom('audit_event')
            .select('id')
            .where(
              'id',
              'in',
              pending.map((p) => p.id),
            )
            .execute()
        ).map((r) => r.id),
      );
      const last = await trx
        .selectFrom('audit_event')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      let prev = last?.hash ?? GENESIS;
      // Numbered here, under the lock, rather than by the column's sequence: a sequence skips
      // the numbers of rolled-back transactions, and the chain's numbers must be dense.
      let seq = Number(last?.seq ?? 0);
      const rows = [];
      for (const { seq: _seq, ...e } of pending) {
        // The same id written twice (an ingest racing a chain pass) is chained once.
        if (chained.has(e.id)) continue;
        chained.add(e.id);
        seq++;
        const hash = sealedHash(prev, seq, e);
        rows.push({ ...e, seq: String(seq), data: JSON.stringify(e.data), prev_hash: prev, hash });
        prev = hash;
      }
      for (let i = 0; i < rows.length; i += 500)
        await trx
          .insertInto('audit_event')
          .values(rows.slice(i, i + 500))
          .execute();
      // By exact seq: a row that commits meanwhile (lower seq, late commit) stays for the next pass.
      await trx
        .deleteFrom('audit_inbox')
        .where(
          'seq',
          'in',
          pending.map((p) => p.seq),
        )
        .execute();
      return pending.length;
    });
  }

  /**
   * Walks the chain in order, then checks it against the signed checkpoints (when a
   * {@link CheckpointSource} was given), and names the first break: see `verify.ts`.
   */
  async verify(): Promise<AuditVerification> {
    await this.flush();
    const result = await verifyAudit(this.#db, this.#checkpoints ? await this.#checkpoints() : []);
    this.#onVerified(result);
    return result;
  }
}
