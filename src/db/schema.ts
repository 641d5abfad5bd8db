import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

/** oidc-provider artifacts, one row per (model, id). */
export interface OidcPayloadTable {
  model: string;
  id: string;
  payload: Json<Record<string, unknown>>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: ColumnType<Date | null, Date | null, Date | null>;
  consumed_at: ColumnType<Date | null, Date | null, Date | null>;
}

export interface UserTable {
  id: string;
  email: string;
  name: Generated<string>;
  password_hash: string;
  disabled: Generated<boolean>;
  attributes: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface RoleTable {
  name: string;
  description: Generated<string>;
  inherits: ColumnType<string[], string | undefined, string>;
  permissions: ColumnType<unknown[], string | undefined, string>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface UserRoleTable { user_id: string; role_name: string }
export interface ClientRoleTable { client_id: string; role_name: string }
export interface ApproverGroupTable { name: string; description: Generated<string>; created_at: Generated<Timestamp> }
export interface GroupMemberTable { group_name: string; user_id: string }

export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_jwk: Json<Record<string, unknown>>;
  created_at: Generated<Timestamp>;
  superseded_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  retire_after: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ServerSecretTable { name: string; value: Json<unknown>; created_at: Generated<Timestamp> }

export interface AuditEventTable {
  seq: Generated<string>;
  id: string;
  time: Timestamp;
  actor: string | null;
  action: string;
  result: string;
  subject: string | null;
  client_id: string | null;
  resource: string | null;
  data: Json<Record<string, unknown>>;
  prev_hash: string;
  hash: string;
}

/** The whole schema as kysely sees it; one entry per table. */
export interface Database {
  oidc_payload: OidcPayloadTable;
  app_user: UserTable;
  role: RoleTable;
  user_role: UserRoleTable;
  client_role: ClientRoleTable;
  approver_group: ApproverGroupTable;
  group_member: GroupMemberTable;
  signing_key: SigningKeyTable;
  server_secret: ServerSecretTable;
  audit_event: AuditEventTable;
}

export type UserRow = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type RoleRow = Selectable<RoleTable>;
export type AuditRow = Selectable<AuditEventTable>;
