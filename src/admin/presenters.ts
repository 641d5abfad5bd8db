/**
 * What leaves the server. Each presenter lists its fields one by one and is typed by a zod view
 * schema (the same one the OpenAPI document publishes), so a new column in a table never reaches
 * a response by accident: no password hash, no client secret except once on creation.
 */
import { z } from 'zod';
import { PermissionSchema } from '../policy/index.ts';
import type { User } from '../accounts/users.ts';
import type { Page } from './pagination.ts';
import type { ClientRecord } from './services/clients.ts';
import type { GroupRecord } from './services/groups.ts';
import type { RoleRecord } from './services/roles.ts';

/** Named response schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const responseSchemas = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  responseSchemas.add(schema, { id });
  return schema;
}

const page = <T extends z.ZodType>(id: string, item: T) =>
  named(id, z.object({ items: z.array(item), nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page') }));

/** RFC 9457 problem details, as the error middleware writes them. */
export const ProblemView = named('Problem', z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string().describe('Stable machine-readable error code'),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Every invalid field (400)'),
}));

named('Permission', PermissionSchema);

export const RoleView = named('Role', z.object({
  name: z.string(),
  description: z.string(),
  inherits: z.array(z.string()),
  permissions: z.array(PermissionSchema),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}));
export const RoleListView = named('RoleList', z.object({ items: z.array(RoleView) }));

export const UserView = named('User', z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  disabled: z.boolean(),
  attributes: z.record(z.string(), z.unknown()),
  roles: z.array(z.string()).describe('Roles assigned directly (inherited ones are not listed)'),
  groups: z.array(z.string()),
}));
export const UserCreatedView = named('UserCreated', UserView.extend({
  generatedPassword: z.string().optional().describe('Only when the server generated the password; shown this once'),
}));
export const UserPageView = page('UserPage', UserView);
export const PasswordResetView = named('PasswordResetResult', z.object({
  id: z.string(),
  generatedPassword: z.string().optional().describe('Only when the server generated the password; shown this once'),
}));

export const GroupView = named('Group', z.object({
  name: z.string(),
  description: z.string(),
  members: z.array(z.string()).describe('User ids'),
  createdAt: z.iso.datetime(),
}));
export const GroupListView = named('GroupList', z.object({ items: z.array(GroupView) }));

export const ClientView = named('Client', z.object({
  id: z.string(),
  name: z.string().optional(),
  grantTypes: z.array(z.string()),
  redirectUris: z.array(z.string()),
  tokenEndpointAuthMethod: z.string(),
  roles: z.array(z.string()),
  scopes: z.array(z.string()).describe('Catalogue scopes the client may ask for; empty means no restriction'),
}));
export const ClientCreatedView = named('ClientCreated', ClientView.extend({
  clientSecret: z.string().optional().describe('Shown this once: the API never returns it again'),
}));
export const ClientPageView = page('ClientPage', ClientView);

export const AuditVerifyView = named('AuditVerification', z.object({
  ok: z.boolean(),
  count: z.int().describe('Events checked before the first broken one (all of them when ok)'),
  brokenAt: z.object({ seq: z.string(), id: z.string(), reason: z.string() }).optional(),
}));

export const OpenApiView = named('OpenApiDocument', z.record(z.string(), z.unknown()));

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
    id: u.id, email: u.email, name: u.name, disabled: u.disabled, attributes: u.attributes, roles: u.roles, groups: u.groups,
  }),
  userPage: (p: Page<User>): z.output<typeof UserPageView> => ({ items: p.items.map(present.user), nextCursor: p.nextCursor }),
  createdUser: (u: User, generatedPassword?: string): z.output<typeof UserCreatedView> => ({
    ...present.user(u), ...(generatedPassword ? { generatedPassword } : {}),
  }),
  passwordReset: (id: string, generatedPassword?: string): z.output<typeof PasswordResetView> => ({
    id, ...(generatedPassword ? { generatedPassword } : {}),
  }),
  group: (g: GroupRecord): z.output<typeof GroupView> => ({
    name: g.name, description: g.description, members: g.members, createdAt: g.createdAt.toISOString(),
  }),
  client: (c: ClientRecord): z.output<typeof ClientView> => ({
    id: c.id,
    ...(c.name ? { name: c.name } : {}),
    grantTypes: c.grantTypes,
    redirectUris: c.redirectUris,
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    roles: c.roles,
    scopes: c.scopes,
  }),
  clientPage: (p: Page<ClientRecord>): z.output<typeof ClientPageView> => ({ items: p.items.map(present.client), nextCursor: p.nextCursor }),
  createdClient: (c: ClientRecord, clientSecret?: string): z.output<typeof ClientCreatedView> => ({
    ...present.client(c), ...(clientSecret ? { clientSecret } : {}),
  }),
};
