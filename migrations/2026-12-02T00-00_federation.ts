import type { Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // One row per person at an upstream OpenID Provider: (issuer, sub) is the only stable key an
  // OP promises (OpenID Connect Core §5.7); email and name may change there at any time.
  await db.schema
    .createTable('federated_identity')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addColumn('upstream_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(db.fn('now')))
    .addColumn('last_sign_in_at', 'timestamptz', (c) => c.notNull().defaultTo(db.fn('now')))
    .addPrimaryKeyConstraint('federated_identity_pk', ['issuer', 'subject'])
    .execute();
  // "Which upstream identities does this user have?" for the admin API and account deletion.
  await db.schema
    .createIndex('federated_identity_user_idx')
    .on('federated_identity')
    .column('user_id')
    .execute();

  // Where a role or group membership came from: null is an administrator's assignment, otherwise
  // the id of the upstream whose rules granted it (re-evaluated at each sign-in there). Admin
  // changes touch only the null rows; a sign-in touches only its upstream's rows.
  await db.schema.alterTable('user_role').addColumn('source', 'text').execute();
  await db.schema.alterTable('group_member').addColumn('source', 'text').execute();

  // A sign-in on its way through an upstream: created at the start, consumed (deleted) by the
  // callback, so a callback is answered once. The browser holds only the random key (a signed,
  // httpOnly cookie); `key_hash` is its SHA-256, so a database reader cannot finish a sign-in.
  await db.schema
    .createTable('federation_transaction')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('upstream_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('return_to', 'jsonb', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // The cleanup deletes abandoned sign-ins in expiry order.
  await db.schema
    .createIndex('federation_transaction_expires_idx')
    .on('federation_transaction')
    .column('expires_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('federation_transaction').ifExists().execute();
  await db.schema.alterTable('group_member').dropColumn('source').execute();
  await db.schema.alterTable('user_role').dropColumn('source').execute();
  await db.schema.dropTable('federated_identity').ifExists().execute();
}
