import type { Kysely } from 'kysely';

// Frozen in time: this file must never import application code, so that replaying it later
// produces the schema it produced on the day it was written.

export async function up(db: Kysely<any>): Promise<void> {
  // Catalogue scopes an admin allows a client (agent) to ask for. A client without rows is not
  // restricted (clients from Dynamic Client Registration, CIMD, or made before this table).
  // No extra index: the primary key (client_id, scope) already serves the one lookup, "the scopes
  // of this client", and deleting a client's rows.
  await db.schema
    .createTable('client_scope')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_scope_pk', ['client_id', 'scope'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('client_scope').ifExists().execute();
}
