import { sql, type Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // Keys that sign audit checkpoints only (never tokens). A superseded key keeps its public half
  // forever (old checkpoints must stay verifiable) and loses its private half.
  await db.schema
    .createTable('audit_key')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('private_jwk', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('superseded_at', 'timestamptz')
    .execute();
  // Signed checkpoints of the chain head, numbered densely by `n` across instances (the primary
  // key makes two instances claiming the same number impossible).
  await db.schema
    .createTable('audit_checkpoint')
    .addColumn('n', 'bigint', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('jws', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_checkpoint').ifExists().execute();
  await db.schema.dropTable('audit_key').ifExists().execute();
}
