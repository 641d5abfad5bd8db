import { sql, type Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('elevation_ticket')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending','approved','denied','expired','cancelled')`),
    )
    // The user the elevation is for (null when a client acts on its own behalf).
    .addColumn('requester_id', 'text')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('justification', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('tool_call', 'jsonb')
    .addColumn('channel', 'text', (c) => c.notNull())
    // The CIBA auth_req_id or the interaction uid the ticket resumes.
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz')
    .addColumn('elevation_id', 'text')
    .execute();
  // The expiry sweep looks only at pending tickets in expiry order.
  await sql`create index elevation_ticket_pending_idx on elevation_ticket (expires_at) where status = 'pending'`.execute(
    db,
  );
  // Resuming a flow finds its ticket by the CIBA request or interaction.
  await db.schema
    .createIndex('elevation_ticket_ref_idx')
    .on('elevation_ticket')
    .column('ref')
    .execute();

  await db.schema
    .createTable('ticket_decision')
    .addColumn('ticket_id', 'text', (c) =>
      c.notNull().references('elevation_ticket.id').onDelete('cascade'),
    )
    .addColumn('approver_id', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('approve','deny')`))
    // Scopes of the ticket this approver's groups could approve.
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // One decision per approver per ticket: quorum counts distinct people.
    .addPrimaryKeyConstraint('ticket_decision_pk', ['ticket_id', 'approver_id'])
    .execute();

  await db.schema
    .createTable('elevation')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('ticket_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Lifetime in seconds; the window starts when the first elevated token is minted.
    .addColumn('lifetime', 'integer', (c) => c.notNull())
    .addColumn('claim_by', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .addColumn('revoke_seq', 'bigint')
    .execute();
  // Token minting looks up the live elevation of (subject, client, resource).
  await db.schema
    .createIndex('elevation_lookup_idx')
    .on('elevation')
    .columns(['subject', 'client_id', 'resource'])
    .execute();
  // The revocation feed pages through revocations in order.
  await sql`create unique index elevation_revoke_seq_idx on elevation (revoke_seq) where revoke_seq is not null`.execute(
    db,
  );
  await sql`create sequence elevation_revoke_seq`.execute(db);

  // Last poll time per CIBA request, for `slow_down` across instances.
  await db.schema
    .createTable('ciba_poll')
    .addColumn('auth_req_id', 'text', (c) => c.primaryKey())
    .addColumn('polled_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop sequence if exists elevation_revoke_seq`.execute(db);
  for (const t of ['ciba_poll', 'elevation', 'ticket_decision', 'elevation_ticket'])
    await db.schema.dropTable(t).ifExists().execute();
}
