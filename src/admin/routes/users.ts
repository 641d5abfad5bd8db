import { adminRoute, type AnyRoute } from '../route.ts';
import {
  PasswordResetView,
  present,
  UserCreatedView,
  UserPageView,
  UserView,
} from '../presenters.ts';
import {
  GroupAssignmentBody,
  PageQuery,
  PasswordResetBody,
  RoleAssignmentBody,
  UserCreateBody,
  UserParams,
  UserPatchBody,
} from '../schemas.ts';
import type { UserAdminService } from '../services/users.ts';

/** `/users`: accounts, their roles, approver groups and passwords. Password hashes never leave. */
export function userRoutes(users: UserAdminService): AnyRoute[] {
  const tag = 'users';
  const one = { status: 200, description: 'The user', schema: UserView } as const;
  return [
    adminRoute({
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'List users by email, a page at a time',
      tag,
      query: PageQuery,
      response: { status: 200, description: 'A page of users', schema: UserPageView },
      handle: async ({ query }) => present.userPage(await users.list(query)),
    }),
    adminRoute({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user',
      tag,
      body: UserCreateBody,
      errors: [409],
      response: {
        status: 201,
        description: 'The new user (with the generated password, once)',
        schema: UserCreatedView,
      },
      location: (u: { id: string }) => `/users/${encodeURIComponent(u.id)}`,
      handle: async ({ body, actor }) => {
        const { user, generatedPassword } = await users.create(actor, body);
        return present.createdUser(user, generatedPassword);
      },
    }),
    adminRoute({
      method: 'get',
      path: '/users/:id',
      operationId: 'getUser',
      summary: 'Get a user',
      tag,
      params: UserParams,
      errors: [404],
      response: one,
      handle: async ({ params }) => present.user(await users.get(params.id)),
    }),
    adminRoute({
      method: 'patch',
      path: '/users/:id',
      operationId: 'updateUser',
      summary: 'Change name, disabled flag or attributes',
      tag,
      params: UserParams,
      body: UserPatchBody,
      errors: [404, 409],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.user(await users.update(actor, params.id, body)),
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id',
      operationId: 'deleteUser',
      summary: 'Delete a user',
      tag,
      params: UserParams,
      errors: [404, 409],
      response: { status: 204, description: 'Deleted' },
      handle: async ({ params, actor }) => users.remove(actor, params.id),
    }),
    adminRoute({
      method: 'put',
      path: '/users/:id/roles',
      operationId: 'setUserRoles',
      summary: "Replace a user's roles",
      tag,
      params: UserParams,
      body: RoleAssignmentBody,
      errors: [404, 409],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.user(await users.setRoles(actor, params.id, body.roles)),
    }),
    adminRoute({
      method: 'put',
      path: '/users/:id/groups',
      operationId: 'setUserGroups',
      summary: "Replace a user's approver groups",
      tag,
      params: UserParams,
      body: GroupAssignmentBody,
      errors: [404],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.user(await users.setGroups(actor, params.id, body.groups)),
    }),
    adminRoute({
      method: 'post',
      path: '/users/:id/password',
      operationId: 'resetUserPassword',
      summary: "Reset a user's password",
      tag,
      params: UserParams,
      body: PasswordResetBody,
      errors: [404],
      response: {
        status: 200,
        description: 'Done; a generated password is returned this once',
        schema: PasswordResetView,
      },
      handle: async ({ params, body, actor }) =>
        present.passwordReset(
          params.id,
          (await users.resetPassword(actor, params.id, body.password)).generatedPassword,
        ),
    }),
  ];
}
