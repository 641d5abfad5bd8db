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
  /** Web sessions begun before this instant are over (sign-out, new password, disabling). */
  sessions_not_before: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoleTable {
  name: string;
  description: Generated<string>;
  inherits: ColumnType<string[], string | undefined, string>;
  permissions: ColumnType<unknown[], string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserRoleTable {
  user_id: string;
  role_name: string;
  /** Null: assigned by an administrator; otherwise the upstream id whose rules grant it. */
  source: ColumnType<string | null, string | null | undefined, string | null>;
}
export interface ClientRoleTable {
  client_id: string;
  role_name: string;
}
export interface ApproverGroupTable {
  name: string;
  description: Generated<string>;
  created_at: Timestamp;
}
export interface GroupMemberTable {
  group_name: string;
  user_id: string;
  /** Null: added by an administrator; otherwise the upstream id whose rules grant it. */
  source: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A person at an upstream OpenID Provider, keyed by (issuer, sub), and the local user it is. */
export interface FederatedIdentityTable {
  issuer: string;
  subject: string;
  user_id: string;
  upstream_id: string;
  created_at: Timestamp;
  last_sign_in_at: Timestamp;
}

/** A sign-in through an upstream between its start and its callback (single use). */
export interface FederationTransactionTable {
  key_hash: string;
  upstream_id: string;
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: Json<Record<string, unknown>>;
  expires_at: ColumnType<Date, Date, Date>;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_jwk: Json<Record<string, unknown>>;
  created_at: Timestamp;
  superseded_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  retire_after: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ServerSecretTable {
  name: string;
  value: Json<unknown>;
  created_at: Timestamp;
}

/** Audit events written but not chained yet (see AuditLog). */
export interface AuditInboxTable {
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
}

/** A chained audit event: an inbox event plus its link in the hash chain. */
export interface AuditEventTable extends AuditInboxTable {
  prev_hash: string;
  hash: string;
}

/** A key that signs audit checkpoints only; `private_jwk` is null once superseded. */
export interface AuditKeyTable {
  kid: string;
  alg: string;
  public_jwk: Json<Record<string, unknown>>;
  private_jwk: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  created_at: Timestamp;
  superseded_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** A signed checkpoint of the audit chain head (see src/audit/checkpoints.ts). int8 as text. */
export interface AuditCheckpointTable {
  n: ColumnType<string, string | number, string | number>;
  seq: ColumnType<string, string | number, string | number>;
  hash: string;
  kid: string;
  jws: string;
  created_at: Timestamp;
}

export interface ElevationTicketTable {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  requester_id: string | null;
  client_id: string;
  subject: string;
  scopes: Json<string[]>;
  resource: string;
  justification: Generated<string>;
  tool_call: ColumnType<
    { tool: string; argumentsSha256: string } | null,
    string | null,
    string | null
  >;
  channel: 'interactive' | 'ciba';
  ref: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  decided_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  elevation_id: string | null;
}

export interface TicketDecisionTable {
  ticket_id: string;
  approver_id: string;
  decision: 'approve' | 'deny';
  scopes: Json<string[]>;
  comment: Generated<string>;
  created_at: Timestamp;
}

export interface ElevationTable {
  id: string;
  subject: string;
  client_id: string;
  scopes: Json<string[]>;
  resource: string;
  ticket_id: string | null;
  created_at: Timestamp;
  lifetime: number;
  claim_by: Timestamp;
  expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_by: string | null;
  revoke_seq: ColumnType<string | null, string | null | undefined, string | null>;
  grant_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface CibaPollTable {
  auth_req_id: string;
  polled_at: Timestamp;
}

/**
 * Transactional mail outbox (ARCHITECTURE.md §6). `id` is int8: read it through `String()`, PGlite returns
 * numbers. Defaulted timestamps are plain `Timestamp`, which is already optional on insert.
 */
export interface MailOutboxTable {
  id: Generated<string>;
  created_at: Timestamp;
  to: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  failed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_error: string | null;
  dedupe_key: string | null;
}

/** The whole schema as kysely sees it; one entry per table. */
/** Sign-in throttle counters (rate-limiter-flexible's store contract), shared by all instances. */
export interface LoginThrottleTable {
  key: string;
  points: number;
  expires_at: ColumnType<Date | null, Date | null, Date | null>;
}

/** An approver's WebAuthn credential (passkey). */
export interface PasskeyTable {
  /** Our id: what pages, forms and audit events name. */
  id: string;
  /** The authenticator's credential id (base64url), unique across the site. */
  credential_id: string;
  user_id: string;
  /** COSE public key. */
  public_key: Uint8Array;
  /** Signature counter; int8, read it through `Number()` (PGlite and pg differ). */
  counter: ColumnType<string | number, number | undefined, number>;
  transports: ColumnType<string[], string | undefined, string>;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string;
  created_at: Timestamp;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** A single-use WebAuthn challenge, shared by every instance. */
export interface WebauthnChallengeTable {
  challenge: string;
  user_id: string;
  purpose: 'register' | 'approve';
  /** For `approve`: the ticket and the decision the assertion will be good for. */
  ticket_id: string | null;
  decision: 'approve' | 'deny' | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used: Generated<boolean>;
}

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
  audit_inbox: AuditInboxTable;
  audit_key: AuditKeyTable;
  audit_checkpoint: AuditCheckpointTable;
  mail_outbox: MailOutboxTable;
  elevation_ticket: ElevationTicketTable;
  ticket_decision: TicketDecisionTable;
  elevation: ElevationTable;
  ciba_poll: CibaPollTable;
  login_throttle: LoginThrottleTable;
  federated_identity: FederatedIdentityTable;
  federation_transaction: FederationTransactionTable;
  passkey: PasskeyTable;
  webauthn_challenge: WebauthnChallengeTable;
}

export type UserRow = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type RoleRow = Selectable<RoleTable>;
export type AuditRow = Selectable<AuditEventTable>;
export type TicketRow = Selectable<ElevationTicketTable>;
export type ElevationRow = Selectable<ElevationTable>;
export type PasskeyRow = Selectable<PasskeyTable>;
