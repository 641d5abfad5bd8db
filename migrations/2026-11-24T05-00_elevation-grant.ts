import type { Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // The oidc-provider grant an elevation was issued under: a token is bound to an elevation of
  // its own grant, never to another concurrent elevation of the same user, client and resource.
  await db.schema.alterTable('elevation').addColumn('grant_id', 'text').execute();
  // Token minting looks elevations up by grant.
  await db.schema.createIndex('elevation_grant_idx').on('elevation').column('grant_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('elevation_grant_idx').ifExists().execute();
  await db.schema.alterTable('elevation').dropColumn('grant_id').execute();
}
