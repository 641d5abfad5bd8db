import type { Context } from 'koa';
import type { z } from 'zod';
import type { UserView } from '../../../admin/presenters.ts';
import { PAGE_SIZE } from '../../../admin/pagination.ts';
import { badge } from '../format.ts';
import { formBody, list, text, type PageKit, type Refusal } from '../kit.ts';
import type { ConsoleRouter } from './router.ts';

/** As the admin API answers it (its presenter's schema). */
type User = z.output<typeof UserView>;
type UserPage = { items: User[]; nextCursor: string | null };

/** Pages read while searching: the API lists by email, the page looks through at most this many. */
const SEARCH_PAGES = 5;

const href = (id: string) => `/console/users/${encodeURIComponent(id)}`;

/**
 * `/console/users`: search, create, and one user's roles, groups, disabled flag and password,
 * each through the admin API's user operations (so self-lockout and unknown names are refused
 * with the API's words). A password the server generates is shown once, on the answer itself.
 */
export function userPages(r: ConsoleRouter, kit: PageKit): void {
  const index = async (ctx: Context, refusal?: Refusal) => {
    const q = text(ctx.query.q).trim().toLowerCase();
    const cursor = text(ctx.query.cursor);
    let items: User[] = [];
    let next: string | null = null;
    if (q) {
      // Search reads pages of the listing and keeps what matches email or name.
      let after: string | undefined;
      for (let i = 0; i < SEARCH_PAGES; i++) {
        const page: UserPage = await kit.call(ctx, 'listUsers', {
          query: { limit: String(PAGE_SIZE.max), ...(after ? { cursor: after } : {}) },
        });
        items.push(
          ...page.items.filter(
            (u) => u.email.toLowerCase().includes(q) || u.name.toLowerCase().includes(q),
          ),
        );
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
    } else {
      const page: UserPage = await kit.call(ctx, 'listUsers', {
        query: cursor ? { cursor } : {},
      });
      items = page.items;
      next = page.nextCursor ? `?cursor=${encodeURIComponent(page.nextCursor)}` : null;
    }
    const roles = (await kit.call<{ items: Array<{ name: string }> }>(ctx, 'listRoles')).items;
    kit.show(
      ctx,
      'console-users',
      'users',
      {
        title: 'Users',
        q,
        next,
        roles: roles.map((x) => x.name),
        items: items.map((u) => ({ ...u, href: href(u.id), badge: badge(state(u)) })),
      },
      refusal,
    );
  };

  const one = async (ctx: Context, refusal?: Refusal) => {
    const user = await kit.call<User>(ctx, 'getUser', { params: { id: ctx.params.id } });
    const roles = (await kit.call<{ items: Array<{ name: string }> }>(ctx, 'listRoles')).items;
    const groups = (await kit.call<{ items: Array<{ name: string }> }>(ctx, 'listGroups')).items;
    kit.show(
      ctx,
      'console-user',
      'users',
      {
        title: user.email,
        user: { ...user, href: href(user.id), state: state(user), badge: badge(state(user)) },
        roles: roles.map((x) => x.name),
        groups: groups.map((x) => x.name),
      },
      refusal,
    );
  };

  const secret = (ctx: Context, what: string, email: string, password: string, back: string) =>
    kit.show(ctx, 'console-secret', 'users', {
      title: 'Shown once',
      what,
      who: email,
      secret: password,
      back,
    });

  r.get('/users', (ctx) => index(ctx));
  r.post('/users', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const b = formBody(ctx);
        const created = await kit.call<User & { generatedPassword?: string }>(ctx, 'createUser', {
          body: {
            email: text(b.email),
            ...(text(b.name) ? { name: text(b.name) } : {}),
            roles: list(b.roles),
          },
        });
        secret(ctx, 'password', created.email, created.generatedPassword!, href(created.id));
      },
      (refusal) => index(ctx, refusal),
    ),
  );
  r.get('/users/:id', (ctx) => one(ctx));
  const change = (path: string, run: (ctx: Context) => Promise<'saved' | 'disabled' | 'enabled'>) =>
    r.post(`/users/:id/${path}`, (ctx) =>
      kit.act(
        ctx,
        async () => kit.done(ctx, href(ctx.params.id!), await run(ctx)),
        (refusal) => one(ctx, refusal),
      ),
    );
  const params = (ctx: Context) => ({ id: ctx.params.id });
  change('roles', async (ctx) => {
    await kit.call(ctx, 'setUserRoles', {
      params: params(ctx),
      body: { roles: list(formBody(ctx).roles) },
    });
    return 'saved';
  });
  change('groups', async (ctx) => {
    await kit.call(ctx, 'setUserGroups', {
      params: params(ctx),
      body: { groups: list(formBody(ctx).groups) },
    });
    return 'saved';
  });
  change('disable', async (ctx) => {
    await kit.call(ctx, 'updateUser', { params: params(ctx), body: { disabled: true } });
    return 'disabled';
  });
  change('enable', async (ctx) => {
    await kit.call(ctx, 'updateUser', { params: params(ctx), body: { disabled: false } });
    return 'enabled';
  });
  r.post('/users/:id/password', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const user = await kit.call<User>(ctx, 'getUser', { params: params(ctx) });
        const reset = await kit.call<{ generatedPassword?: string }>(ctx, 'resetUserPassword', {
          params: params(ctx),
          body: {},
        });
        secret(ctx, 'password', user.email, reset.generatedPassword!, href(user.id));
      },
      (refusal) => one(ctx, refusal),
    ),
  );
}

const state = (u: User) => (u.disabled ? 'disabled' : 'enabled');
