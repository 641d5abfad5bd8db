import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type UserBody = {
  id: string;
  email: string;
  name: string;
  disabled: boolean;
  attributes: Record<string, unknown>;
  roles: string[];
  groups: string[];
  generatedPassword?: string;
};

describe.each(databaseKinds())('admin API: users (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  const create = async (json: Record<string, unknown>) => {
    const res = await f.api('POST', '/users', { token, json });
    expect(res.status).toBe(201);
    return (await res.json()) as UserBody;
  };

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
  });
  afterAll(async () => f?.close());

  it('creates a user with a generated password that is shown once and lets them sign in', async () => {
    const user = await create({ email: 'gen@example.com', name: 'Gen', roles: ['viewer'] });
    expect(user.generatedPassword).toMatch(/^[\w-]{24}$/);
    expect(Object.keys(user).sort()).toEqual([
      'attributes',
      'disabled',
      'email',
      'federatedGroups',
      'federatedRoles',
      'generatedPassword',
      'groups',
      'id',
      'name',
      'roles',
    ]);
    const again = (await (await f.api('GET', `/users/${user.id}`, { token })).json()) as UserBody;
    expect(again.generatedPassword).toBeUndefined();
    await expect(
      f.token({
        email: 'gen@example.com',
        password: user.generatedPassword!,
        scope: 'mcp:tools:read',
        resource: MCP_RESOURCE,
      }),
    ).resolves.toBeTruthy();

    const given = await create({ email: 'given@example.com', password: 'chosen password 1' });
    expect(given.generatedPassword).toBeUndefined();
  });

  it('never returns a password or its hash', async () => {
    const bodies = await Promise.all(
      [
        f.api('GET', '/users?limit=200', { token }),
        f.api('GET', `/users/${f.adminId}`, { token }),
      ].map(async (r) => (await r).text()),
    );
    for (const body of bodies) expect(body).not.toMatch(/password|scrypt\$|hash/i);
  });

  it('pages through all users with an opaque cursor', async () => {
    for (let i = 0; i < 5; i++)
      await create({ email: `page${i}@example.com`, password: 'page password 1' });
    const all = (await f.t.server.users.list({ limit: 1000 })).map((u) => u.email);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await f.api(
        'GET',
        `/users?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token },
      );
      const page = (await res.json()) as { items: UserBody[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((u) => u.email));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
  });

  it('changes name, disabled flag and attributes, and refuses an empty or duplicate change', async () => {
    const user = await create({ email: 'patch@example.com', password: 'patch password 1' });
    const res = await f.api('PATCH', `/users/${user.id}`, {
      token,
      json: { name: 'Pat', disabled: true, attributes: { team: 'sre', level: 3 } },
    });
    expect(await res.json()).toMatchObject({
      name: 'Pat',
      disabled: true,
      attributes: { team: 'sre', level: 3 },
    });
    expect(
      (await problem(await f.api('PATCH', `/users/${user.id}`, { token, json: {} }))).status,
    ).toBe(400);
    expect(
      (
        await problem(
          await f.api('POST', '/users', {
            token,
            json: { email: 'PATCH@example.com', password: 'patch password 1' },
          }),
        )
      ).status,
    ).toBe(409);
    expect(
      (await problem(await f.api('PATCH', '/users/nobody', { token, json: { name: 'x' } }))).status,
    ).toBe(404);
  });

  it('replaces roles and groups, refusing unknown ones with 400 naming them', async () => {
    const user = await create({
      email: 'links@example.com',
      password: 'links password 1',
      roles: ['viewer'],
    });
    const roles = await f.api('PUT', `/users/${user.id}/roles`, {
      token,
      json: { roles: ['developer', 'senior_developer'] },
    });
    expect(((await roles.json()) as UserBody).roles).toEqual(['developer', 'senior_developer']);
    const groups = await f.api('PUT', `/users/${user.id}/groups`, {
      token,
      json: { groups: ['tech-lead'] },
    });
    expect(((await groups.json()) as UserBody).groups).toEqual(['tech-lead']);

    const unknown = await problem(
      await f.api('PUT', `/users/${user.id}/roles`, {
        token,
        json: { roles: ['developer', 'wizard'] },
      }),
    );
    expect(unknown).toMatchObject({ status: 400, role: ['wizard'] });
    expect(unknown.detail).toContain('wizard');
    expect(
      (
        await problem(
          await f.api('PUT', `/users/${user.id}/groups`, { token, json: { groups: ['cabal'] } }),
        )
      ).detail,
    ).toContain('cabal');
    expect(
      ((await (await f.api('GET', `/users/${user.id}`, { token })).json()) as UserBody).roles,
    ).toEqual(['developer', 'senior_developer']);
  });

  it('resets a password: a chosen one is not echoed, a generated one is returned once and works', async () => {
    const user = await create({ email: 'reset@example.com', password: 'first password 1' });
    const chosen = await f.api('POST', `/users/${user.id}/password`, {
      token,
      json: { password: 'second password 2' },
    });
    expect(await chosen.json()).toEqual({ id: user.id });
    const generated = (await (
      await f.api('POST', `/users/${user.id}/password`, { token, json: {} })
    ).json()) as { generatedPassword: string };
    expect(generated.generatedPassword).toMatch(/^[\w-]{24}$/);
    await expect(
      f.token({
        email: 'reset@example.com',
        password: generated.generatedPassword,
        scope: 'mcp:tools:read',
        resource: MCP_RESOURCE,
      }),
    ).resolves.toBeTruthy();
    expect(
      (
        await problem(
          await f.api('POST', `/users/${user.id}/password`, { token, json: { password: 'short' } }),
        )
      ).errors![0]!.path,
    ).toBe('password');
  });

  it('keeps an admin from deleting, disabling or demoting themselves', async () => {
    for (const [method, path, json] of [
      ['DELETE', '', undefined],
      ['PATCH', '', { disabled: true }],
      ['PUT', '/roles', { roles: ['developer'] }],
    ] as const) {
      const res = await f.api(method, `/users/${f.adminId}${path}`, { token, json });
      expect(res.status).toBe(409);
      expect((await problem(res)).code).toBe('ERR_SELF_LOCKOUT');
    }
    expect((await f.api('GET', '/roles', { token })).status).toBe(200);
  });

  it('deletes a user', async () => {
    const user = await create({
      email: 'gone@example.com',
      password: 'gone password 1',
      roles: ['viewer'],
      groups: ['sre-oncall'],
    });
    expect((await f.api('DELETE', `/users/${user.id}`, { token })).status).toBe(204);
    expect((await f.api('GET', `/users/${user.id}`, { token })).status).toBe(404);
    expect((await f.api('DELETE', `/users/${user.id}`, { token })).status).toBe(404);
  });
});
