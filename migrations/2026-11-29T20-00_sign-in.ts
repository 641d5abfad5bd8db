import { sql, type Kysely } from 'kysely';

// Frozen in time: no application imports. The email spelling below is a copy of the rule of the
// day (NFKC, trimmed, lower-cased), kept here so that replaying this file gives the same result.

const normalise = (s: string) => s.normalize('NFKC').trim().toLowerCase().normalize('NFKC');

export async function up(db: Kysely<any>): Promise<void> {
  // Sign-in throttle counters shared by every instance: one row per key (an account's email or a
  // client address), counting attempts until `expires_at`, as rate-limiter-flexible counts them.
  await db.schema
    .createTable('login_throttle')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .execute();
  // The cleanup job deletes expired counters in expiry order.
  await db.schema
    .createIndex('login_throttle_expires_at_idx')
    .on('login_throttle')
    .column('expires_at')
    .execute();

  // Emails are stored in their one normalised spelling from now on; rows written before keep
  // working only once rewritten. SQL lower() depends on the database's locale and knows no NFKC,
  // so the rewrite happens here, row by row.
  const rows: Array<{ id: string; email: string }> = await db
    .selectFrom('app_user')
    .select(['id', 'email'])
    .execute();
  const seen = new Map<string, string>();
  for (const { id, email } of rows) {
    const spelled = normalise(email);
    const other = seen.get(spelled);
    if (other) {
      throw new Error(
        `users ${other} and ${id} have the same email once normalised; ` +
          'rename or delete one of them, then start again',
      );
    }
    seen.set(spelled, id);
  }
  for (const { id, email } of rows) {
    const spelled = normalise(email);
    if (spelled !== email)
      await db.updateTable('app_user').set({ email: spelled }).where('id', '=', id).execute();
  }
  // Uniqueness and lookup on the stored spelling itself, independent of the database locale.
  await sql`create unique index app_user_email_idx on app_user (email)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists app_user_email_idx`.execute(db);
  await db.schema.dropTable('login_throttle').ifExists().execute();
}
