import type { Context } from 'koa';
import type { z } from 'zod';
import type { RoleView } from '../../../admin/presenters.ts';
import { AppError } from '../../../errors.ts';
import { layoutRoles } from '../graph.ts';
import { formBody, list, text, type PageKit, type Refusal } from '../kit.ts';
import { when } from '../format.ts';
import type { ConsoleRouter } from './router.ts';

/** As the admin API answers it (its presenter's schema). */
type Role = z.output<typeof RoleView>;

/** The permissions field: JSON text of the API's `permissions` array; empty means none. */
function permissions(value: unknown): unknown {
  const raw = text(value).trim();
  if (!raw) return [];
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError(
      'ERR_MALFORMED_JSON',
      'permissions is not valid JSON (an array of permissions is expected)',
    );
  }
}

/** What a role form posts, as the admin API's role body (validated by the API's schema). */
function roleBody(ctx: Context) {
  const b = formBody(ctx);
  return {
    description: text(b.description),
    inherits: list(b.inherits),
    permissions: permissions(b.permissions),
  };
}

const href = (name: string) => `/console/roles/${encodeURIComponent(name)}`;

/**
 * `/console/roles`: the roles, their inheritance drawn as a picture (inline SVG with a text
 * alternative), and their definitions edited through the admin API's role operations, whose schema
 * and policy check (cycles, unknown parents) decide.
 */
export function rolePages(r: ConsoleRouter, kit: PageKit): void {
  const listRoles = async (ctx: Context) =>
    (await kit.call<{ items: Role[] }>(ctx, 'listRoles')).items;

  const index = async (ctx: Context, refusal?: Refusal, draft?: Record<string, unknown>) => {
    const roles = await listRoles(ctx);
    kit.show(
      ctx,
      'console-roles',
      'roles',
      {
        title: 'Roles',
        roles: roles.map((role) => ({ ...role, href: href(role.name) })),
        graph: layoutRoles(roles),
        draft: draft ?? { name: '', description: '', inherits: [], permissions: '' },
      },
      refusal,
    );
  };

  const one = async (ctx: Context, refusal?: Refusal, draft?: Record<string, unknown>) => {
    const role = await kit.call<Role>(ctx, 'getRole', { params: { name: ctx.params.name } });
    const others = (await listRoles(ctx)).filter((x) => x.name !== role.name).map((x) => x.name);
    kit.show(
      ctx,
      'console-role',
      'roles',
      {
        title: `Role ${role.name}`,
        role: { ...role, href: href(role.name), updated: when(role.updatedAt) },
        others,
        draft: draft ?? {
          description: role.description,
          inherits: role.inherits,
          permissions: JSON.stringify(role.permissions, null, 2),
        },
      },
      refusal,
    );
  };

  const draftOf = (ctx: Context) => {
    const b = formBody(ctx);
    return {
      name: text(b.name),
      description: text(b.description),
      inherits: list(b.inherits),
      permissions: text(b.permissions),
    };
  };

  r.get('/roles', (ctx) => index(ctx));
  r.post('/roles', (ctx) =>
    kit.act(
      ctx,
      async () => {
        const role = await kit.call<Role>(ctx, 'createRole', {
          body: { name: text(formBody(ctx).name), ...roleBody(ctx) },
        });
        kit.done(ctx, href(role.name), 'created');
      },
      (refusal) => index(ctx, refusal, draftOf(ctx)),
    ),
  );
  r.get('/roles/:name', (ctx) => one(ctx));
  r.post('/roles/:name', (ctx) =>
    kit.act(
      ctx,
      async () => {
        await kit.call(ctx, 'replaceRole', {
          params: { name: ctx.params.name },
          body: roleBody(ctx),
        });
        kit.done(ctx, href(ctx.params.name!), 'saved');
      },
      (refusal) => one(ctx, refusal, draftOf(ctx)),
    ),
  );
  r.post('/roles/:name/delete', (ctx) =>
    kit.act(
      ctx,
      async () => {
        await kit.call(ctx, 'deleteRole', { params: { name: ctx.params.name } });
        kit.done(ctx, '/console/roles', 'deleted');
      },
      (refusal) => one(ctx, refusal),
    ),
  );
}
