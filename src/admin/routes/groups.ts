import { adminRoute, type AnyRoute } from '../route.ts';
import { GroupListView, GroupView, present } from '../presenters.ts';
import { GroupCreateBody, GroupMembersBody, GroupParams, GroupPatchBody } from '../schemas.ts';
import type { GroupAdminService } from '../services/groups.ts';

/** `/groups`: approver groups and their members. */
export function groupRoutes(groups: GroupAdminService): AnyRoute[] {
  const tag = 'groups';
  const one = { status: 200, description: 'The group', schema: GroupView } as const;
  return [
    adminRoute({
      method: 'get',
      path: '/groups',
      operationId: 'listGroups',
      summary: 'List approver groups',
      tag,
      response: { status: 200, description: 'All groups, by name', schema: GroupListView },
      handle: async () => ({ items: (await groups.list()).map(present.group) }),
    }),
    adminRoute({
      method: 'post',
      path: '/groups',
      operationId: 'createGroup',
      summary: 'Create an approver group',
      tag,
      body: GroupCreateBody,
      errors: [409],
      response: { status: 201, description: 'The new group', schema: GroupView },
      location: (g: { name: string }) => `/groups/${encodeURIComponent(g.name)}`,
      handle: async ({ body, actor }) => present.group(await groups.create(actor, body)),
    }),
    adminRoute({
      method: 'get',
      path: '/groups/:name',
      operationId: 'getGroup',
      summary: 'Get a group',
      tag,
      params: GroupParams,
      errors: [404],
      response: one,
      handle: async ({ params }) => present.group(await groups.get(params.name)),
    }),
    adminRoute({
      method: 'patch',
      path: '/groups/:name',
      operationId: 'updateGroup',
      summary: "Change a group's description",
      tag,
      params: GroupParams,
      body: GroupPatchBody,
      errors: [404],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.group(await groups.update(actor, params.name, body)),
    }),
    adminRoute({
      method: 'delete',
      path: '/groups/:name',
      operationId: 'deleteGroup',
      summary: 'Delete a group no scope needs',
      tag,
      params: GroupParams,
      errors: [404, 409],
      response: { status: 204, description: 'Deleted' },
      handle: async ({ params, actor }) => groups.remove(actor, params.name),
    }),
    adminRoute({
      method: 'put',
      path: '/groups/:name/members',
      operationId: 'setGroupMembers',
      summary: "Replace a group's members",
      tag,
      params: GroupParams,
      body: GroupMembersBody,
      errors: [404],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.group(await groups.setMembers(actor, params.name, body.members)),
    }),
  ];
}
