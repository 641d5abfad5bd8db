import { adminRoute, type AnyRoute } from '../route.ts';
import { ClientCreatedView, ClientPageView, ClientView, present } from '../presenters.ts';
import {
  ClientCreateBody,
  ClientParams,
  PageQuery,
  RoleAssignmentBody,
  ScopeAssignmentBody,
} from '../schemas.ts';
import type { ClientAdminService } from '../services/clients.ts';

/** `/clients`: OAuth clients (agents), their own roles and the scopes they may ask for. */
export function clientRoutes(clients: ClientAdminService): AnyRoute[] {
  const tag = 'clients';
  const one = {
    status: 200,
    description: 'The client (never its secret)',
    schema: ClientView,
  } as const;
  return [
    adminRoute({
      method: 'get',
      path: '/clients',
      operationId: 'listClients',
      summary: 'List clients by id, a page at a time',
      tag,
      query: PageQuery,
      response: { status: 200, description: 'A page of clients', schema: ClientPageView },
      handle: async ({ query }) => present.clientPage(await clients.list(query)),
    }),
    adminRoute({
      method: 'post',
      path: '/clients',
      operationId: 'createClient',
      summary: 'Register a client (agent)',
      tag,
      body: ClientCreateBody,
      errors: [409],
      response: {
        status: 201,
        description: 'The new client, with its generated secret this once',
        schema: ClientCreatedView,
      },
      location: (c: { id: string }) => `/clients/${encodeURIComponent(c.id)}`,
      handle: async ({ body, actor }) => {
        const { client, clientSecret } = await clients.create(actor, body);
        return present.createdClient(client, clientSecret);
      },
    }),
    adminRoute({
      method: 'get',
      path: '/clients/:id',
      operationId: 'getClient',
      summary: 'Get a client',
      tag,
      params: ClientParams,
      errors: [404],
      response: one,
      handle: async ({ params }) => present.client(await clients.get(params.id)),
    }),
    adminRoute({
      method: 'put',
      path: '/clients/:id/roles',
      operationId: 'setClientRoles',
      summary: "Replace a client's own roles",
      tag,
      params: ClientParams,
      body: RoleAssignmentBody,
      errors: [404],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.client(await clients.setRoles(actor, params.id, body.roles)),
    }),
    adminRoute({
      method: 'put',
      path: '/clients/:id/scopes',
      operationId: 'setClientScopes',
      summary: 'Replace the scopes a client may ask for',
      tag,
      params: ClientParams,
      body: ScopeAssignmentBody,
      errors: [404],
      response: one,
      handle: async ({ params, body, actor }) =>
        present.client(await clients.setScopes(actor, params.id, body.scopes)),
    }),
    adminRoute({
      method: 'post',
      path: '/clients/:id/secret',
      operationId: 'rotateClientSecret',
      summary: 'Give a client a new generated secret (the old one stops working)',
      tag,
      params: ClientParams,
      errors: [400, 404],
      response: {
        status: 200,
        description: 'The client, with its new secret this once',
        schema: ClientCreatedView,
      },
      handle: async ({ params, actor }) => {
        const { client, clientSecret } = await clients.rotateSecret(actor, params.id);
        return present.createdClient(client, clientSecret);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/clients/:id',
      operationId: 'deleteClient',
      summary: 'Delete a client',
      tag,
      params: ClientParams,
      errors: [404],
      response: { status: 204, description: 'Deleted' },
      handle: async ({ params, actor }) => clients.remove(actor, params.id),
    }),
  ];
}
