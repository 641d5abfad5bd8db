import type { Kysely } from 'kysely';

// Frozen in time: no application imports.

export async function up(db: Kysely<any>): Promise<void> {
  // Admin audit queries filter by subject, client, resource or time, newest first by seq.
  await db.schema
    .createIndex('audit_event_subject_idx')
    .on('audit_event')
    .columns(['subject', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_event_client_idx')
    .on('audit_event')
    .columns(['client_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_event_resource_idx')
    .on('audit_event')
    .columns(['resource', 'seq'])
    .execute();
  await db.schema.createIndex('audit_event_time_idx').on('audit_event').column('time').execute();
  // Admin listings of elevations and tickets page newest first.
  await db.schema
    .createIndex('elevation_created_idx')
    .on('elevation')
    .column('created_at')
    .execute();
  await db.schema
    .createIndex('elevation_ticket_created_idx')
    .on('elevation_ticket')
    .column('created_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const i of [
    'audit_event_subject_idx',
    'audit_event_client_idx',
    'audit_event_resource_idx',
    'audit_event_time_idx',
    'elevation_created_idx',
    'elevation_ticket_created_idx',
  ]) {
    await db.schema.dropIndex(i).ifExists().execute();
  }
}
