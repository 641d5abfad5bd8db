import { sql, type Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // Approvers' WebAuthn credentials. `id` is ours (what pages, forms and audit name); the
  // authenticator's credential id is unique across the site, since an assertion names only it.
  await db.schema
    .createTable('passkey')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  // A user's own list (enrolment page, allowCredentials of a ceremony).
  await db.schema.createIndex('passkey_user_idx').on('passkey').column('user_id').execute();

  // Single-use ceremony challenges, in the database so that the instance that verifies an
  // assertion need not be the one that issued its challenge.
  await db.schema
    .createTable('webauthn_challenge')
    .addColumn('challenge', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('register', 'approve')`))
    .addColumn('ticket_id', 'text', (c) => c.references('elevation_ticket.id').onDelete('cascade'))
    .addColumn('decision', 'text', (c) => c.check(sql`decision in ('approve', 'deny')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // The cleanup job deletes expired challenges in expiry order.
  await db.schema
    .createIndex('webauthn_challenge_expires_at_idx')
    .on('webauthn_challenge')
    .column('expires_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webauthn_challenge').ifExists().execute();
  await db.schema.dropTable('passkey').ifExists().execute();
}
