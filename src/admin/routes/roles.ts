import { adminRoute, type AnyRoute } from '../route.ts';
import { present, RoleListView, RoleView } from '../presenters.ts';
import { RoleCreateBody, RoleParams, RolePatchBody, RoleReplaceBody } from '../schemas.ts';
import type { RoleAdminService } from '../services/roles.ts';

/** `/roles`: role CRUD; inheritance is checked by the policy engine before anything is written. */
export function roleRoutes(roles: RoleAdminService): AnyRoute[] {
  const tag = 'roles';
  const one = { status: 200, description: 'The role', schema: RoleView } as const;
  return [
    adminRoute({
      method: 'get',
      path: '/roles',
      operationId: 'listRoles',
      summary: 'List roles',
      tag,
      response: { status: 200, description: 'All roles, by name', schema: RoleListView },
      handle: async () => ({ items: (await roles.list()).map(present.role) }),
    }),
    adminRoute({
      method: 'post',
      path: '/roles',
      operationId: 'createRole',
      summary: 'Create a role',
      tag,
      body: RoleCreateBody,
      errors: [409],
      response: { status: 201, description: 'The new role', schema: RoleView },
      location: (r: { name: string }) => `/roles/${encodeURIComponent(r.name)}`,
      handle: async ({ body, actor }) => present.role(await roles.create(actor, body)),
    }),
    adminRoute({
      method: 'get',
      path: '/roles/:name',
      operationId: 'getRole',
      summary: 'Get a role',
      tag,
      params: RoleParams,
      errors: [404],
      response: one,
      handle: async ({ params }) => present.role(await roles.get(params.name)),
    }),
    adminRoute({
      method: 'put',
      path: '/roles/:name',
      operationId: 'replaceRole',
      summary: 'Replace a role definition',
      tag,
      params: RoleParams,
      body: RoleReplaceBody,
      errors: [404, 409],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.role(await roles.replace(actor, params.name, body)),
    }),
    adminRoute({
      method: 'patch',
      path: '/roles/:name',
      operationId: 'updateRole',
      summary: 'Change some fields of a role',
      tag,
      params: RoleParams,
      body: RolePatchBody,
      errors: [404, 409],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.role(await roles.update(actor, params.name, body)),
    }),
    adminRoute({
      method: 'delete',
      path: '/roles/:name',
      operationId: 'deleteRole',
      summary: 'Delete a role nothing depends on',
      tag,
      params: RoleParams,
      errors: [404, 409],
      response: { status: 204, description: 'Deleted' },
      handle: async ({ params, actor }) => roles.remove(actor, params.name),
    }),
  ];
}
