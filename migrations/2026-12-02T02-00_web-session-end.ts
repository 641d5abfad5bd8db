import type { Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // Web sessions are signed cookies; this instant ends every one of the account's sessions begun
  // before it (sign-out, a new password, disabling), on every instance, copies of the cookie
  // included. Null: no session ended yet. Read with the user row each page already loads.
  await db.schema.alterTable('app_user').addColumn('sessions_not_before', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('app_user').dropColumn('sessions_not_before').execute();
}
