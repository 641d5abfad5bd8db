import type { Context } from 'koa';
import type { z } from 'zod';
import type { GroupView, UserView } from '../../../admin/presenters.ts';
import { PAGE_SIZE } from '../../../admin/pagination.ts';
import { when } from '../format.ts';
import { formBody, list, text, type PageKit, type Refusal } from '../kit.ts';
import type { ConsoleRouter } from './router.ts';

/** As the admin API answers it (its presenter's schema). */
type Group = z.output<typeof GroupView>;
/** As the admin API answers it (its presenter's schema). */
type User = z.output<typeof UserView>;

const href = (name: string) => `/console/groups/${encodeURIComponent(name)}`;

/** `/console/groups`: approver groups and their members, through the admin API's group operations. */
export function groupPages(r: ConsoleRouter, kit: PageKit): void {
  const users = async (ctx: Context) =>
    (
      await kit.call<{ items: User[] }>(ctx, 'listUsers', {
        query: { limit: String(PAGE_SIZE.max) },
      })
    ).items;

  const index = async (ctx: Context, refusal?: Refusal) => {
    const groups = (await kit.call<{ items: Group[] }>(ctx, 'listGroups')).items;
    kit.show(
      ctx,
      'console-groups',
      'groups',
      { title: 'Groups', groups: groups.map((g) => ({ ...g, href: href(g.name) })) },
      refusal,
    );
  };

  const one = async (ctx: Context, refusal?: Refusal) => {
    const group = await kit.call<Group>(ctx, 'getGroup', { params: { name: ctx.params.name } });
    const people = await users(ctx);
    const known = new Set(people.map((u) => u.id));
    kit.show(
      ctx,
      'console-group',
      'groups',
      {
        title: `Group ${group.name}`,
        group: { ...group, href: href(group.name), created: when(group.createdAt) },
        people: people.map((u) => ({ ...u, member: group.members.includes(u.id) })),
        // Members beyond the first page of users stay members: sent back as hidden fields.
        others: group.members.filter((id) => !known.has(id)),
      },
      refusal,
    );
  };

  r.get('/groups', (ctx) => index(ctx));
  r.post('/groups', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const b = formBody(ctx);
        const group = await kit.call<Group>(ctx, 'createGroup', {
          body: { name: text(b.name), description: text(b.description) },
        });
        kit.done(ctx, href(group.name), 'created');
      },
      (refusal) => index(ctx, refusal),
    ),
  );
  r.get('/groups/:name', (ctx) => one(ctx));
  const change = (path: string, run: (ctx: Context) => Promise<void>) =>
    r.post(`/groups/:name${path}`, (ctx) =>
      kit.act(
        ctx,
        async () => {
          await run(ctx);
          if (path === '/delete') kit.done(ctx, '/console/groups', 'deleted');
          else kit.done(ctx, href(ctx.params.name!), 'saved');
        },
        (refusal) => one(ctx, refusal),
      ),
    );
  const params = (ctx: Context) => ({ name: ctx.params.name });
  change('', (ctx) =>
    kit.call(ctx, 'updateGroup', {
      params: params(ctx),
      body: { description: text(formBody(ctx).description) },
    }),
  );
  change('/members', (ctx) =>
    kit.call(ctx, 'setGroupMembers', {
      params: params(ctx),
      body: { members: list(formBody(ctx).members) },
    }),
  );
  change('/delete', (ctx) => kit.call(ctx, 'deleteGroup', { params: params(ctx) }));
}
