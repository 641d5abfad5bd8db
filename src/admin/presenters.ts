/**
 * What leaves the server. Each presenter lists its fields one by one and is typed by a zod view
 * schema (the same one the OpenAPI document publishes), so a new column in a table never reaches
 * a response by accident: no password hash, no client secret except once on creation.
 */
import { z } from 'zod';
import { PermissionSchema } from '../policy/index.ts';
import type { User } from '../accounts/users.ts';
import type { AuditRow, TicketRow } from '../db/schema.ts';
import type { Page } from './pagination.ts';
import { asDate } from './services/common.ts';
import type { ClientRecord } from './services/clients.ts';
import type { GroupRecord } from './services/groups.ts';
import type { RoleRecord } from './services/roles.ts';
import type { ElevationRecord } from './services/elevations.ts';
import type { TicketDecisionRecord } from './services/tickets.ts';

/** Named response schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const responseSchemas = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  responseSchemas.add(schema, { id });
  return schema;
}

const page = <T extends z.ZodType>(id: string, item: T) =>
  named(
    id,
    z.object({
      items: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .describe('Pass as ?cursor= for the next page; null on the last page'),
    }),
  );

/** RFC 9457 problem details, as the error middleware writes them. */
export const ProblemView = named(
  'Problem',
  z.looseObject({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().describe('Stable machine-readable error code'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('Every invalid field (400)'),
  }),
);

named('Permission', PermissionSchema);

export const RoleView = named(
  'Role',
  z.object({
    name: z.string(),
    description: z.string(),
    inherits: z.array(z.string()),
    permissions: z.array(PermissionSchema),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  }),
);
export const RoleListView = named('RoleList', z.object({ items: z.array(RoleView) }));

export const UserView = named(
  'User',
  z.object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    disabled: z.boolean(),
    attributes: z.record(z.string(), z.unknown()),
    roles: z
      .array(z.string())
      .describe(
        'Roles held directly, from an administrator or an upstream (inherited ones are not listed)',
      ),
    groups: z.array(z.string()).describe('Approver groups, from an administrator or an upstream'),
    federatedRoles: z
      .array(z.string())
      .describe(
        'The roles of `roles` that an upstream identity provider grants through its rules: ' +
          're-evaluated at each sign-in there; setting roles does not remove them',
      ),
    federatedGroups: z
      .array(z.string())
      .describe('The groups of `groups` that an upstream identity provider grants'),
  }),
);
export const UserCreatedView = named(
  'UserCreated',
  UserView.extend({
    generatedPassword: z
      .string()
      .optional()
      .describe('Only when the server generated the password; shown this once'),
  }),
);
export const UserPageView = page('UserPage', UserView);
export const PasswordResetView = named(
  'PasswordResetResult',
  z.object({
    id: z.string(),
    generatedPassword: z
      .string()
      .optional()
      .describe('Only when the server generated the password; shown this once'),
  }),
);

export const GroupView = named(
  'Group',
  z.object({
    name: z.string(),
    description: z.string(),
    members: z.array(z.string()).describe('User ids'),
    createdAt: z.iso.datetime(),
  }),
);
export const GroupListView = named('GroupList', z.object({ items: z.array(GroupView) }));

export const ClientView = named(
  'Client',
  z.object({
    id: z.string(),
    name: z.string().optional(),
    grantTypes: z.array(z.string()),
    redirectUris: z.array(z.string()),
    tokenEndpointAuthMethod: z.string(),
    roles: z.array(z.string()),
    scopes: z
      .array(z.string())
      .describe('Catalogue scopes the client may ask for; empty means no restriction'),
    mcpResource: z
      .string()
      .optional()
      .describe('The MCP server resource the client is (audit ingest)'),
  }),
);
export const ClientCreatedView = named(
  'ClientCreated',
  ClientView.extend({
    clientSecret: z.string().optional().describe('Shown this once: the API never returns it again'),
  }),
);
export const ClientPageView = page('ClientPage', ClientView);

export const AuditVerifyView = named(
  'AuditVerification',
  z.object({
    ok: z.boolean(),
    count: z.int().describe('Events checked before the first broken one (all of them when ok)'),
    head: z
      .object({ seq: z.string(), hash: z.string() })
      .nullable()
      .describe('The last event in the table, whatever its state'),
    checkpoints: z.object({
      checked: z.int().describe('Signed checkpoints accepted and compared with the chain'),
      latest: z
        .object({ n: z.int(), seq: z.string(), time: z.iso.datetime(), kid: z.string() })
        .nullable(),
      refused: z
        .array(
          z.object({
            index: z.int(),
            n: z.int().optional(),
            seq: z.int().optional(),
            reason: z.string(),
            source: z.string().optional(),
          }),
        )
        .describe('Checkpoints signed by another key, with a bad signature, or replayed'),
    }),
    brokenAt: z
      .object({
        kind: z.enum(['edited', 'deleted', 'inserted', 'reordered', 'truncated', 'rewritten']),
        seq: z.string().describe('The first seq affected'),
        id: z.string().optional(),
        reason: z.string(),
      })
      .optional(),
  }),
);

export const ElevationView = named(
  'Elevation',
  z.object({
    id: z.string(),
    state: z
      .enum(['live', 'expired', 'lapsed', 'revoked'])
      .describe('lapsed: never used before its claim window closed'),
    subject: z.string(),
    clientId: z.string(),
    scopes: z.array(z.string()),
    resource: z.string(),
    ticketId: z
      .string()
      .nullable()
      .describe('The approval ticket it came from; null when no approval was needed'),
    createdAt: z.iso.datetime(),
    claimBy: z.iso.datetime().describe('Lapses unless a token is minted with it by then'),
    expiresAt: z.iso.datetime().nullable().describe('Set when its first token is minted'),
    revokedAt: z.iso.datetime().nullable(),
    revokedBy: z.string().nullable(),
  }),
);
export const ElevationPageView = page('ElevationPage', ElevationView);

export const TicketView = named(
  'Ticket',
  z.object({
    id: z.string(),
    status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']),
    requesterId: z
      .string()
      .nullable()
      .describe('The user who asked; null for a client acting for itself'),
    subject: z.string(),
    clientId: z.string(),
    scopes: z.array(z.string()),
    resource: z.string(),
    justification: z.string(),
    toolCall: z.object({ tool: z.string(), argumentsSha256: z.string() }).nullable(),
    channel: z.enum(['interactive', 'ciba']),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    decidedAt: z.iso.datetime().nullable(),
    elevationId: z.string().nullable(),
  }),
);
export const TicketPageView = page('TicketPage', TicketView);
export const TicketDecisionView = named(
  'TicketDecision',
  z.object({
    approverId: z.string(),
    decision: z.enum(['approve', 'deny']),
    scopes: z.array(z.string()).describe('The scopes this approver could decide on'),
    comment: z.string(),
    createdAt: z.iso.datetime(),
  }),
);
export const TicketDetailView = named(
  'TicketDetail',
  TicketView.extend({ decisions: z.array(TicketDecisionView) }),
);

export const AuditEventView = named(
  'AuditEvent',
  z.object({
    seq: z.string().describe('Position in the hash chain'),
    id: z.string(),
    time: z.iso.datetime(),
    actor: z.string().nullable(),
    action: z.string(),
    result: z.string(),
    subject: z.string().nullable(),
    clientId: z.string().nullable(),
    resource: z.string().nullable(),
    data: z
      .record(z.string(), z.unknown())
      .describe('Details of the event; secrets were redacted before it was stored'),
    prevHash: z.string().describe('hash of the previous event (64 zeros for the first)'),
    hash: z.string().describe('SHA-256 over prevHash and the canonical JSON of the event'),
  }),
);
export const AuditPageView = page('AuditEventPage', AuditEventView);

export const OpenApiView = named('OpenApiDocument', z.record(z.string(), z.unknown()));

const iso = (d: Date | string) => asDate(d).toISOString();
const isoOrNull = (d: Date | string | null) => (d === null ? null : iso(d));

/** Presenters: one function per view, listing each field. */
export const present = {
  role: (r: RoleRecord): z.output<typeof RoleView> => ({
    name: r.name,
    description: r.description ?? '',
    inherits: r.inherits,
    permissions: r.permissions,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }),
  user: (u: User): z.output<typeof UserView> => ({
    id: u.id,
    email: u.email,
    name: u.name,
    disabled: u.disabled,
    attributes: u.attributes,
    roles: u.roles,
    groups: u.groups,
    federatedRoles: u.federatedRoles,
    federatedGroups: u.federatedGroups,
  }),
  userPage: (p: Page<User>): z.output<typeof UserPageView> => ({
    items: p.items.map(present.user),
    nextCursor: p.nextCursor,
  }),
  createdUser: (u: User, generatedPassword?: string): z.output<typeof UserCreatedView> => ({
    ...present.user(u),
    ...(generatedPassword ? { generatedPassword } : {}),
  }),
  passwordReset: (id: string, generatedPassword?: string): z.output<typeof PasswordResetView> => ({
    id,
    ...(generatedPassword ? { generatedPassword } : {}),
  }),
  group: (g: GroupRecord): z.output<typeof GroupView> => ({
    name: g.name,
    description: g.description,
    members: g.members,
    createdAt: g.createdAt.toISOString(),
  }),
  client: (c: ClientRecord): z.output<typeof ClientView> => ({
    id: c.id,
    ...(c.name ? { name: c.name } : {}),
    grantTypes: c.grantTypes,
    redirectUris: c.redirectUris,
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    roles: c.roles,
    scopes: c.scopes,
    ...(c.mcpResource ? { mcpResource: c.mcpResource } : {}),
  }),
  clientPage: (p: Page<ClientRecord>): z.output<typeof ClientPageView> => ({
    items: p.items.map(present.client),
    nextCursor: p.nextCursor,
  }),
  elevation: (e: ElevationRecord): z.output<typeof ElevationView> => ({
    id: e.id,
    state: e.state,
    subject: e.subject,
    clientId: e.client_id,
    scopes: e.scopes,
    resource: e.resource,
    ticketId: e.ticket_id,
    createdAt: iso(e.created_at),
    claimBy: iso(e.claim_by),
    expiresAt: isoOrNull(e.expires_at),
    revokedAt: isoOrNull(e.revoked_at),
    revokedBy: e.revoked_by,
  }),
  elevationPage: (p: Page<ElevationRecord>): z.output<typeof ElevationPageView> => ({
    items: p.items.map(present.elevation),
    nextCursor: p.nextCursor,
  }),
  // `ref` (the CIBA auth_req_id or interaction uid) stays inside: it names a live protocol exchange.
  ticket: (t: TicketRow): z.output<typeof TicketView> => ({
    id: t.id,
    status: t.status,
    requesterId: t.requester_id,
    subject: t.subject,
    clientId: t.client_id,
    scopes: t.scopes,
    resource: t.resource,
    justification: t.justification,
    toolCall: t.tool_call
      ? { tool: t.tool_call.tool, argumentsSha256: t.tool_call.argumentsSha256 }
      : null,
    channel: t.channel,
    createdAt: iso(t.created_at),
    expiresAt: iso(t.expires_at),
    decidedAt: isoOrNull(t.decided_at),
    elevationId: t.elevation_id,
  }),
  ticketPage: (p: Page<TicketRow>): z.output<typeof TicketPageView> => ({
    items: p.items.map(present.ticket),
    nextCursor: p.nextCursor,
  }),
  ticketDetail: (
    t: TicketRow,
    decisions: TicketDecisionRecord[],
  ): z.output<typeof TicketDetailView> => ({
    ...present.ticket(t),
    decisions: decisions.map((d) => ({
      approverId: d.approver_id,
      decision: d.decision,
      scopes: d.scopes,
      comment: d.comment,
      createdAt: iso(d.created_at),
    })),
  }),
  // int8 `seq` arrives as a number from PGlite and as a string from pg: always a string here.
  auditEvent: (e: AuditRow): z.output<typeof AuditEventView> => ({
    seq: String(e.seq),
    id: e.id,
    time: iso(e.time),
    actor: e.actor,
    action: e.action,
    result: e.result,
    subject: e.subject,
    clientId: e.client_id,
    resource: e.resource,
    data: e.data,
    prevHash: e.prev_hash,
    hash: e.hash,
  }),
  auditPage: (p: Page<AuditRow>): z.output<typeof AuditPageView> => ({
    items: p.items.map(present.auditEvent),
    nextCursor: p.nextCursor,
  }),
  createdClient: (c: ClientRecord, clientSecret?: string): z.output<typeof ClientCreatedView> => ({
    ...present.client(c),
    ...(clientSecret ? { clientSecret } : {}),
  }),
};
