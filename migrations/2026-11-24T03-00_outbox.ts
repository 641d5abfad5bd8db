import { sql, type Kysely } from 'kysely';

// Frozen in time: this file must never import application code, so that replaying it later
// produces the schema it produced on the day it was written.

export async function up(db: Kysely<any>): Promise<void> {
  // Transactional outbox for mail (DESIGN §6): a row is written in the same transaction as the
  // business change it announces, and a worker delivers it after commit, with retries.
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('to', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text_body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text')
    // Delivery attempts that failed so far; drives the retry backoff.
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Lease: a worker owns the row until then. A crashed worker's lease simply runs out.
    .addColumn('locked_until', 'timestamptz')
    .addColumn('sent_at', 'timestamptz')
    // Set when the server kept rejecting the message permanently: parked, no more retries.
    .addColumn('failed_at', 'timestamptz')
    // Short, redacted summary of the last failure; never holds credentials.
    .addColumn('last_error', 'text')
    // Enqueueing the same logical message twice (a retried request) is a no-op.
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .execute();
  // The worker's claim query looks for unsent, not parked rows whose next attempt is due, oldest
  // due first. Partial, so sent mail (the bulk of the table over time) is not in the index at all
  // and both the claim and the outbox-depth gauge stay cheap however much history accumulates.
  await db.schema
    .createIndex('mail_outbox_due_idx')
    .on('mail_outbox')
    .columns(['next_attempt_at', 'id'])
    .where(sql.ref('sent_at'), 'is', null)
    .where(sql.ref('failed_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mail_outbox').ifExists().execute();
}
