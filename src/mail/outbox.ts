import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';

/** A message to queue; see {@link enqueueMail}. */
export interface MailToQueue {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /**
   * Names the logical message (e.g. `ticket:<id>:approver:<userId>`): queueing the same key
   * again is a no-op, so a retried request does not mail twice. Default: none (always queued).
   */
  dedupeKey?: string;
}

/**
 * Queues a mail in the caller's transaction (ARCHITECTURE.md §6, transactional outbox): it is delivered
 * only if that transaction commits, so a rolled-back business change never mails and a committed
 * one always does, however the SMTP server behaves. Call the worker's `kick()` after commit for
 * prompt delivery. Resolves to false when `dedupeKey` was already queued.
 *
 * @throws TypeError when `to` is not an address or `subject`/`text` are not strings.
 */
export async function enqueueMail(
  trx: Transaction<Database> | Kysely<Database>,
  msg: MailToQueue,
): Promise<boolean> {
  if (typeof msg.to !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(msg.to.trim()))
    throw new TypeError('enqueueMail: `to` must be one e-mail address');
  if (typeof msg.subject !== 'string' || typeof msg.text !== 'string')
    throw new TypeError('enqueueMail: `subject` and `text` must be strings');
  const res = await trx
    .insertInto('mail_outbox')
    .values({
      to: msg.to.trim(),
      subject: msg.subject,
      text_body: msg.text,
      html_body: msg.html ?? null,
      dedupe_key: msg.dedupeKey ?? null,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Messages not yet sent and not given up (the `/metrics` outbox-depth gauge, ARCHITECTURE.md §8). */
export async function outboxDepth(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('mail_outbox')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('sent_at', 'is', null)
    .where('failed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A row the worker holds a lease on; `lease` is the exact `locked_until` it set, its proof of ownership. */
export interface ClaimedMail {
  id: string;
  createdAt: Date;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  attempts: number;
  lease: Date;
}

// Truncated to milliseconds so that the value survives the round trip through a JS Date
// unchanged and can be compared for equality as a lease token.
const leaseEnd = (leaseMs: number) =>
  sql<Date>`date_trunc('milliseconds', now() + ${leaseMs}::double precision * interval '1 millisecond')`;

/**
 * Takes a lease on up to `limit` due messages in one statement. `FOR UPDATE SKIP LOCKED` makes
 * concurrent claimers (other instances, other workers) pass over rows being claimed instead of
 * waiting, and PostgreSQL re-checks the lease condition on rows changed meanwhile, so a row is
 * never leased twice. No transaction stays open afterwards: PGlite's single connection is free.
 */
export async function claimDueMail(
  db: Kysely<Database>,
  limit: number,
  leaseMs: number,
): Promise<ClaimedMail[]> {
  const rows = await db
    .updateTable('mail_outbox')
    .set({ locked_until: leaseEnd(leaseMs) })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('mail_outbox')
        .select('id')
        .where('sent_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        .where((w) =>
          w.or([w('locked_until', 'is', null), w('locked_until', '<', sql<Date>`now()`)]),
        )
        // The order of mail_outbox_due_idx: oldest due first, fair to retried messages.
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returning([
      'id',
      'created_at',
      'to',
      'subject',
      'text_body',
      'html_body',
      'attempts',
      'locked_until',
    ])
    .execute();
  return rows
    .map((r) => ({
      id: String(r.id),
      createdAt: r.created_at,
      to: r.to,
      subject: r.subject,
      text: r.text_body,
      html: r.html_body,
      attempts: r.attempts,
      lease: r.locked_until!,
    }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

/** Extends a lease still held; resolves to the new token, or undefined when the lease was lost. */
export async function renewLease(
  db: Kysely<Database>,
  mail: ClaimedMail,
  leaseMs: number,
): Promise<Date | undefined> {
  const row = await db
    .updateTable('mail_outbox')
    .set({ locked_until: leaseEnd(leaseMs) })
    .where('id', '=', mail.id)
    .where('locked_until', '=', mail.lease)
    .where('sent_at', 'is', null)
    .returning('locked_until')
    .executeTakeFirst();
  return row?.locked_until ?? undefined;
}

/** Records a delivery; false when the lease had been lost (another worker may also deliver it). */
export async function markSent(db: Kysely<Database>, mail: ClaimedMail): Promise<boolean> {
  const res = await db
    .updateTable('mail_outbox')
    .set({ sent_at: sql<Date>`now()`, locked_until: null })
    .where('id', '=', mail.id)
    .where('locked_until', '=', mail.lease)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Records a failed attempt and when to try again, or parks the message for good (`failedAt`). */
export async function markFailed(
  db: Kysely<Database>,
  mail: ClaimedMail,
  f: { error: string; retryInMs: number; giveUp: boolean },
): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      next_attempt_at: sql<Date>`now() + ${f.retryInMs}::double precision * interval '1 millisecond'`,
      locked_until: null,
      last_error: f.error,
      failed_at: f.giveUp ? sql<Date>`now()` : null,
    }))
    .where('id', '=', mail.id)
    .where('locked_until', '=', mail.lease)
    .execute();
}

/** Gives back a lease without an attempt (worker stopping), so another instance can take it at once. */
export async function releaseLease(db: Kysely<Database>, mail: ClaimedMail): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ locked_until: null })
    .where('id', '=', mail.id)
    .where('locked_until', '=', mail.lease)
    .execute();
}
