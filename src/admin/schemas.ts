/**
 * Request schemas of the admin API: path, query and body of every route. They validate requests
 * and generate the OpenAPI document; objects are strict, so an unknown field is a 400 naming it.
 */
import { z } from 'zod';
import { PermissionSchema, RoleNameSchema, RoleSchema, ScopeNameSchema } from '../policy/index.ts';
import { PAGE_SIZE } from './pagination.ts';
import { CLIENT_AUTH_METHODS } from '../oidc/clients.ts';

/** Named request schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const requestSchemas = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  requestSchemas.add(schema, { id });
  return schema;
}

/** An approver group name: lowercase, starts with a letter, at most 64 characters. */
export const GroupNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_.-]{0,63}$/,
    'must be 1-64 characters of a-z, 0-9, "_", ".", "-", starting with a letter',
  );

const UserId = z.string().min(1).max(128);
const Description = z.string().max(1000);
const Password = z.string().min(8, 'must be at least 8 characters').max(1024);
const Attributes = z
  .record(z.string().min(1).max(100), z.unknown())
  .describe('Free-form JSON attributes (replaced as a whole)');
const Roles = z.array(RoleNameSchema).max(100);
const Groups = z.array(GroupNameSchema).max(100);
const Scopes = z.array(ScopeNameSchema).max(100);

named('PermissionInput', PermissionSchema);

// ---- path parameters and query ----------------------------------------------------------------

export const RoleParams = z.strictObject({ name: RoleNameSchema });
export const GroupParams = z.strictObject({ name: GroupNameSchema });
export const UserParams = z.strictObject({ id: UserId });
/** Client ids may be URLs (Client ID Metadata Documents): any printable text, percent-encoded in the path. */
export const ClientParams = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(2048)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});

/** Cursor pagination: `limit` items after the opaque `cursor` of the previous page. */
export const PageQuery = z.strictObject({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(PAGE_SIZE.max)
    .optional()
    .describe(`Page size, default ${PAGE_SIZE.default}`),
  cursor: z.string().min(1).max(512).optional().describe('nextCursor of the previous page'),
});

const Id = z.string().min(1).max(128);
const Principal = z.string().min(1).max(256);
const ClientId = z.string().min(1).max(2048);
const Instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const Bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const pageFields = PageQuery.shape;

export const ElevationParams = z.strictObject({ id: Id });
export const TicketParams = z.strictObject({ id: Id });

/** Filters of the elevation listing, newest first. */
export const ElevationQuery = z.strictObject({
  ...pageFields,
  subject: Principal.optional().describe(
    'The user (or client acting for itself) the elevation is for',
  ),
  client: ClientId.optional().describe('The client (agent) that holds it'),
  live: Bool.optional().describe(
    'true: only usable ones (not revoked, expired or lapsed unclaimed); false: only the others',
  ),
});

/** Filters of the ticket listing, newest first. */
export const TicketQuery = z.strictObject({
  ...pageFields,
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']).optional(),
  requester: Principal.optional().describe(
    'The user who asked (absent for a client acting for itself)',
  ),
  subject: Principal.optional().describe('Who the elevation would be for'),
  client: ClientId.optional().describe('The client (agent) that asked'),
});

const auditFilterFields = {
  actor: Principal.optional(),
  action: z
    .string()
    .max(200)
    .regex(
      /^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*(\.\*)?$/,
      'must be an action (ticket.opened) or a prefix ending in .* (ticket.*)',
    )
    .optional()
    .describe(
      'An exact action, or a prefix ending in .* (ticket.* matches ticket.opened, ticket.approved …)',
    ),
  result: z.enum(['success', 'failure', 'denied']).optional(),
  resource: z.string().min(1).max(2048).optional(),
  subject: Principal.optional(),
  client: ClientId.optional(),
  from: Instant.optional().describe('Events at or after this time (ISO 8601 with offset)'),
  to: Instant.optional().describe('Events before this time (ISO 8601 with offset)'),
};

const timeRangeOk = (q: { from?: Date; to?: Date }) => !q.from || !q.to || q.from < q.to;
const timeRangeIssue = { path: ['to'], message: 'must be later than from' };

/** Filters of the audit export (every matching event, oldest first). */
export const AuditExportQuery = z
  .strictObject(auditFilterFields)
  .refine(timeRangeOk, timeRangeIssue);

/** Filters and page of the audit query. */
export const AuditQuery = z
  .strictObject({
    ...pageFields,
    ...auditFilterFields,
    order: z
      .enum(['desc', 'asc'])
      .default('desc')
      .describe('desc: newest first (default); asc: oldest first'),
  })
  .refine(timeRangeOk, timeRangeIssue);

// ---- roles ------------------------------------------------------------------------------------

/** A new role; `inherits` must name existing roles and must not form a cycle. */
export const RoleCreateBody = named('RoleCreate', RoleSchema);

/** A role's full new definition (its name comes from the path). */
export const RoleReplaceBody = named(
  'RoleReplace',
  z.strictObject({
    description: Description.optional(),
    inherits: Roles.default([]),
    permissions: z.array(PermissionSchema).max(500).default([]),
  }),
);

/** The fields of a role to change; absent fields stay as they are. */
export const RolePatchBody = named(
  'RolePatch',
  z.strictObject({
    description: Description.optional(),
    inherits: Roles.optional(),
    permissions: z.array(PermissionSchema).max(500).optional(),
  }),
);

// ---- users ------------------------------------------------------------------------------------

export const UserCreateBody = named(
  'UserCreate',
  z.strictObject({
    email: z.email().max(320),
    name: z.string().max(200).optional(),
    password: Password.optional().describe(
      'Omit to have the server generate one; it is returned once, in this response',
    ),
    roles: Roles.optional(),
    groups: Groups.optional(),
    attributes: Attributes.optional(),
  }),
);

export const UserPatchBody = named(
  'UserPatch',
  z
    .strictObject({
      name: z.string().max(200).optional(),
      disabled: z
        .boolean()
        .optional()
        .describe('A disabled user cannot sign in or use the admin API'),
      attributes: Attributes.optional(),
    })
    .refine((b) => Object.keys(b).length > 0, 'name at least one of name, disabled, attributes'),
);

export const RoleAssignmentBody = named('RoleAssignment', z.strictObject({ roles: Roles }));
export const GroupAssignmentBody = named('GroupAssignment', z.strictObject({ groups: Groups }));

export const PasswordResetBody = named(
  'PasswordReset',
  z.strictObject({
    password: Password.optional().describe(
      'Omit to have the server generate one; it is returned once, in this response',
    ),
  }),
);

// ---- groups -----------------------------------------------------------------------------------

export const GroupCreateBody = named(
  'GroupCreate',
  z.strictObject({
    name: GroupNameSchema,
    description: Description.optional(),
    members: z.array(UserId).max(1000).optional().describe('User ids'),
  }),
);

export const GroupPatchBody = named('GroupPatch', z.strictObject({ description: Description }));
export const GroupMembersBody = named(
  'GroupMembers',
  z.strictObject({ members: z.array(UserId).max(1000).describe('User ids') }),
);

// ---- clients ----------------------------------------------------------------------------------

export const ClientCreateBody = named(
  'ClientCreate',
  z.strictObject({
    id: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
        'must be 1-128 characters of A-Z, a-z, 0-9, ".", "_", ":", "-"',
      ),
    name: z.string().min(1).max(200).optional(),
    redirectUris: z
      .array(z.url())
      .max(20)
      .optional()
      .describe('Exact redirect URIs; none for an agent using client_credentials or CIBA'),
    grantTypes: z
      .array(
        z.enum([
          'authorization_code',
          'refresh_token',
          'client_credentials',
          'urn:openid:params:grant-type:ciba',
        ]),
      )
      .min(1)
      .max(4)
      .optional()
      .describe(
        'Default: authorization_code and refresh_token with redirect URIs, else client_credentials',
      ),
    roles: Roles.optional().describe('Roles of the client acting on its own behalf'),
    scopes: Scopes.optional().describe(
      'Catalogue scopes the client may ask for; omit for no restriction',
    ),
    mcpResource: z
      .url()
      .optional()
      .describe(
        'The catalogue resource this client is the MCP server of: it may then post audit events (audit:write) for it',
      ),
    tokenEndpointAuthMethod: z
      .enum(CLIENT_AUTH_METHODS)
      .optional()
      .describe(
        'How the client authenticates at the token endpoint. Default: none for a client with redirect URIs and no client_credentials, else client_secret_basic (a secret is generated)',
      ),
    jwksUri: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional()
      .describe("private_key_jwt: URL of the client's JWK Set"),
    jwks: z
      .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) })
      .optional()
      .describe("private_key_jwt: the client's public keys (JWK Set)"),
  }),
);

export const ScopeAssignmentBody = named('ScopeAssignment', z.strictObject({ scopes: Scopes }));

/** Request body types, as services receive them. */
export type RoleReplace = z.output<typeof RoleReplaceBody>;
export type RolePatch = z.output<typeof RolePatchBody>;
export type UserCreate = z.output<typeof UserCreateBody>;
export type UserPatch = z.output<typeof UserPatchBody>;
export type GroupCreate = z.output<typeof GroupCreateBody>;
export type ClientCreate = z.output<typeof ClientCreateBody>;
export type PageRequest = z.output<typeof PageQuery>;
export type ElevationFilter = z.output<typeof ElevationQuery>;
export type TicketFilter = z.output<typeof TicketQuery>;
export type AuditFilter = z.output<typeof AuditExportQuery>;
export type AuditPageRequest = z.output<typeof AuditQuery>;
