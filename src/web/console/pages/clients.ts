import type { Context } from 'koa';
import type { z } from 'zod';
import type { ClientView } from '../../../admin/presenters.ts';
import { CLIENT_AUTH_METHODS } from '../../../oidc/clients.ts';
import { formBody, list, text, type PageKit, type Refusal } from '../kit.ts';
import type { ConsoleRouter } from './router.ts';

/** As the admin API answers it (its presenter's schema). */
type Client = z.output<typeof ClientView>;

const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:openid:params:grant-type:ciba',
];

const href = (id: string) => `/console/clients/${encodeURIComponent(id)}`;
const words = (value: unknown) => text(value).split(/\s+/).filter(Boolean);

/**
 * `/console/clients`: registered clients; registering one with its authentication method (a
 * generated secret is shown once), its roles and allowed scopes, through the admin API.
 */
export function clientPages(r: ConsoleRouter, kit: PageKit): void {
  const roleNames = async (ctx: Context) =>
    (await kit.call<{ items: Array<{ name: string }> }>(ctx, 'listRoles')).items.map((x) => x.name);

  const index = async (ctx: Context, refusal?: Refusal) => {
    const cursor = text(ctx.query.cursor);
    const page = await kit.call<{ items: Client[]; nextCursor: string | null }>(
      ctx,
      'listClients',
      { query: cursor ? { cursor } : {} },
    );
    kit.show(
      ctx,
      'console-clients',
      'clients',
      {
        title: 'Clients',
        clients: page.items.map((x) => ({ ...x, href: href(x.id) })),
        next: page.nextCursor ? `?cursor=${encodeURIComponent(page.nextCursor)}` : null,
        roles: await roleNames(ctx),
        grantTypes: GRANT_TYPES,
        methods: CLIENT_AUTH_METHODS,
      },
      refusal,
    );
  };

  const one = async (ctx: Context, refusal?: Refusal) => {
    const client = await kit.call<Client>(ctx, 'getClient', { params: { id: ctx.params.id } });
    kit.show(
      ctx,
      'console-client',
      'clients',
      {
        title: `Client ${client.id}`,
        client: { ...client, href: href(client.id) },
        roles: await roleNames(ctx),
      },
      refusal,
    );
  };

  r.get('/clients', (ctx) => index(ctx));
  r.post('/clients', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const b = formBody(ctx);
        const optional = (key: string, value: unknown[] | string) =>
          value.length ? { [key]: value } : {};
        const created = await kit.call<Client & { clientSecret?: string }>(ctx, 'createClient', {
          body: {
            id: text(b.id),
            ...optional('name', text(b.name)),
            ...optional('redirectUris', words(b.redirectUris)),
            ...optional('grantTypes', list(b.grantTypes)),
            ...optional('tokenEndpointAuthMethod', text(b.method)),
            ...optional('roles', list(b.roles)),
            ...optional('scopes', words(b.scopes)),
            ...optional('jwksUri', text(b.jwksUri)),
          },
        });
        if (!created.clientSecret) return kit.done(ctx, href(created.id), 'created');
        kit.show(ctx, 'console-secret', 'clients', {
          title: 'Shown once',
          what: 'client secret',
          who: created.id,
          secret: created.clientSecret,
          back: href(created.id),
        });
      },
      (refusal) => index(ctx, refusal),
    ),
  );
  r.get('/clients/:id', (ctx) => one(ctx));
  const change = (path: string, run: (ctx: Context) => Promise<unknown>) =>
    r.post(`/clients/:id${path}`, (ctx) =>
      kit.act(
        ctx,
        async () => {
          await run(ctx);
          if (path === '/delete') kit.done(ctx, '/console/clients', 'deleted');
          else kit.done(ctx, href(ctx.params.id!), 'saved');
        },
        (refusal) => one(ctx, refusal),
      ),
    );
  const params = (ctx: Context) => ({ id: ctx.params.id });
  change('/roles', (ctx) =>
    kit.call(ctx, 'setClientRoles', {
      params: params(ctx),
      body: { roles: list(formBody(ctx).roles) },
    }),
  );
  change('/scopes', (ctx) =>
    kit.call(ctx, 'setClientScopes', {
      params: params(ctx),
      body: { scopes: words(formBody(ctx).scopes) },
    }),
  );
  change('/delete', (ctx) => kit.call(ctx, 'deleteClient', { params: params(ctx) }));
  r.post('/clients/:id/secret', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const rotated = await kit.call<Client & { clientSecret: string }>(
          ctx,
          'rotateClientSecret',
          { params: params(ctx) },
        );
        kit.show(ctx, 'console-secret', 'clients', {
          title: 'Shown once',
          what: 'client secret',
          who: rotated.id,
          secret: rotated.clientSecret,
          back: href(rotated.id),
        });
      },
      (refusal) => one(ctx, refusal),
    ),
  );
}
