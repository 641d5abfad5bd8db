import { sql, type Kysely } from 'kysely';

// Frozen in time: this file must never import application code, so that replaying it later
// produces the schema it produced on the day it was written.

export async function up(db: Kysely<any>): Promise<void> {
  // Every oidc-provider artifact (sessions, grants, codes, tokens, dynamic clients …) in one table,
  // keyed by (model, id) as the adapter interface addresses them.
  await db.schema
    .createTable('oidc_payload')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('user_code', 'text')
    .addColumn('uid', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('consumed_at', 'timestamptz')
    .addPrimaryKeyConstraint('oidc_payload_pk', ['model', 'id'])
    .execute();
  // revokeByGrantId deletes every artifact of a grant: without this index it scans the table.
  await db.schema
    .createIndex('oidc_payload_grant_id_idx')
    .on('oidc_payload')
    .column('grant_id')
    .where(sql.ref('grant_id'), 'is not', null)
    .execute();
  // Sessions are looked up by their fixed uid.
  await db.schema
    .createIndex('oidc_payload_uid_idx')
    .on('oidc_payload')
    .column('uid')
    .where(sql.ref('uid'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('oidc_payload_user_code_idx')
    .on('oidc_payload')
    .column('user_code')
    .where(sql.ref('user_code'), 'is not', null)
    .execute();
  // The cleanup job deletes expired rows in expiry order.
  await db.schema
    .createIndex('oidc_payload_expires_at_idx')
    .on('oidc_payload')
    .column('expires_at')
    .where(sql.ref('expires_at'), 'is not', null)
    .execute();

  await db.schema
    .createTable('app_user')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('disabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('attributes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Emails are unique case-insensitively (DESIGN §4) and logins look them up that way.
  await sql`create unique index app_user_email_lower_idx on app_user (lower(email))`.execute(db);

  await db.schema
    .createTable('role')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('inherits', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('permissions', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('user_role')
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addColumn('role_name', 'text', (c) => c.notNull().references('role.name'))
    .addPrimaryKeyConstraint('user_role_pk', ['user_id', 'role_name'])
    .execute();
  // "Is this role still in use?" before deleting a role.
  await db.schema.createIndex('user_role_role_idx').on('user_role').column('role_name').execute();

  await db.schema
    .createTable('client_role')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('role_name', 'text', (c) => c.notNull().references('role.name'))
    .addPrimaryKeyConstraint('client_role_pk', ['client_id', 'role_name'])
    .execute();
  await db.schema
    .createIndex('client_role_role_idx')
    .on('client_role')
    .column('role_name')
    .execute();

  await db.schema
    .createTable('approver_group')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('group_member')
    .addColumn('group_name', 'text', (c) =>
      c.notNull().references('approver_group.name').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('group_member_pk', ['group_name', 'user_id'])
    .execute();
  // "Which groups is this user in?" on every approval page.
  await db.schema
    .createIndex('group_member_user_idx')
    .on('group_member')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('signing_key')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Set when a newer key takes over signing; the key stays published until `retire_after`.
    .addColumn('superseded_at', 'timestamptz')
    .addColumn('retire_after', 'timestamptz')
    .execute();

  await db.schema
    .createTable('server_secret')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('audit_event')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('time', 'timestamptz', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('client_id', 'text')
    .addColumn('resource', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  // Audit queries filter by actor and action, newest first.
  await db.schema
    .createIndex('audit_event_actor_idx')
    .on('audit_event')
    .columns(['actor', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_event_action_idx')
    .on('audit_event')
    .columns(['action', 'seq'])
    .execute();

  // Default roles of DESIGN §4, as they were on the day this migration was written.
  const tool = (resource: string, conditions?: object) => ({
    resource,
    action: 'invoke',
    ...(conditions ? { conditions } : {}),
  });
  const defaults = [
    {
      name: 'viewer',
      description: 'Read-only access: list, get and check tools, read resources',
      inherits: [],
      permissions: [
        tool('tool:list_*'),
        tool('tool:get_*'),
        tool('tool:check_*'),
        { resource: 'resource:*', action: 'read' },
      ],
    },
    {
      name: 'developer',
      description: 'Builds, tests and deploys to development and staging',
      inherits: ['viewer'],
      permissions: [
        tool('tool:run_tests'),
        tool('tool:build_artifact'),
        tool('tool:deploy_service', { environment: ['development', 'staging'] }),
      ],
    },
    {
      name: 'senior_developer',
      description: 'Deploys to production and rolls back',
      inherits: ['developer'],
      permissions: [
        tool('tool:deploy_service', { environment: ['production'] }),
        tool('tool:rollback_deployment'),
      ],
    },
    {
      name: 'admin',
      description: 'Everything, including the admin API',
      inherits: ['senior_developer'],
      permissions: [{ resource: '*', action: '*' }],
    },
  ];
  await db
    .insertInto('role')
    .values(
      defaults.map((r) => ({
        name: r.name,
        description: r.description,
        inherits: JSON.stringify(r.inherits),
        permissions: JSON.stringify(r.permissions),
      })),
    )
    .execute();
  // Approver groups named by the default scope catalogue.
  await db
    .insertInto('approver_group')
    .values([
      { name: 'tech-lead', description: 'Approves production deployments' },
      { name: 'sre-oncall', description: 'Approves production deployments and rollbacks' },
      { name: 'security-team', description: 'Approves admin elevation' },
    ])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'audit_event',
    'server_secret',
    'signing_key',
    'group_member',
    'approver_group',
    'client_role',
    'user_role',
    'role',
    'app_user',
    'oidc_payload',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
