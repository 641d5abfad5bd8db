import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

describe.each(databaseKinds())('admin API: roles (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  const post = (json: unknown) => f.api('POST', '/roles', { token, json });

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
  });
  afterAll(async () => f?.close());

  it("puts a new role inheriting developer, once assigned to a user, into that user's next access token", async () => {
    const created = await post({
      name: 'release_manager',
      description: 'Ships releases',
      inherits: ['developer'],
      permissions: [{ resource: 'tool:tag_release' }],
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/admin/v1/roles/release_manager');
    expect(await created.json()).toMatchObject({
      name: 'release_manager',
      inherits: ['developer'],
      permissions: [{ resource: 'tool:tag_release', action: 'invoke' }],
    });

    const user = await f.api('POST', '/users', {
      token,
      json: { email: 'rm@example.com', password: 'release manager 1' },
    });
    const { id } = (await user.json()) as { id: string };
    const assigned = await f.api('PUT', `/users/${id}/roles`, {
      token,
      json: { roles: ['release_manager'] },
    });
    expect(assigned.status).toBe(200);
    expect(((await assigned.json()) as { roles: string[] }).roles).toEqual(['release_manager']);

    const access = await f.token({
      email: 'rm@example.com',
      password: 'release manager 1',
      scope: 'mcp:tools:read',
      resource: MCP_RESOURCE,
    });
    expect(decodeJwt(access).roles).toEqual(['release_manager', 'developer', 'viewer']);
  });

  it('lists, gets, replaces and patches roles', async () => {
    const list = (await (await f.api('GET', '/roles', { token })).json()) as {
      items: Array<{ name: string }>;
    };
    expect(list.items.map((r) => r.name)).toEqual(
      expect.arrayContaining(['admin', 'developer', 'senior_developer', 'viewer']),
    );
    expect((await f.api('GET', '/roles/viewer', { token })).status).toBe(200);
    expect((await problem(await f.api('GET', '/roles/nobody', { token }))).status).toBe(404);

    expect((await post({ name: 'auditor' })).status).toBe(201);
    const replaced = await f.api('PUT', '/roles/auditor', {
      token,
      json: { description: 'Reads audit', inherits: ['viewer'], permissions: [] },
    });
    expect(await replaced.json()).toMatchObject({
      name: 'auditor',
      description: 'Reads audit',
      inherits: ['viewer'],
    });
    const patched = await f.api('PATCH', '/roles/auditor', {
      token,
      json: { permissions: [{ resource: 'resource:audit:*', action: 'read' }] },
    });
    expect(await patched.json()).toMatchObject({
      description: 'Reads audit',
      inherits: ['viewer'],
      permissions: [{ resource: 'resource:audit:*', action: 'read' }],
    });
    expect((await f.api('PUT', '/roles/ghost', { token, json: {} })).status).toBe(404);
    expect((await problem(await post({ name: 'auditor' }))).code).toBe('ERR_ROLE_EXISTS');
  });

  it('refuses to delete a role still assigned to a user, and deletes it once unassigned', async () => {
    expect((await post({ name: 'on_call', inherits: ['viewer'] })).status).toBe(201);
    const user = await f.t.server.users.create({
      email: 'oncall@example.com',
      password: 'on call pass 1',
      roles: ['on_call'],
    });
    const refused = await f.api('DELETE', '/roles/on_call', { token });
    expect(refused.status).toBe(409);
    const body = await problem(refused);
    expect(body).toMatchObject({ code: 'ERR_ROLE_IN_USE', users: 1, clients: 0 });
    expect(body.detail).toContain('on_call');

    await f.api('PUT', `/users/${user.id}/roles`, { token, json: { roles: [] } });
    expect((await f.api('DELETE', '/roles/on_call', { token })).status).toBe(204);
    expect((await f.api('GET', '/roles/on_call', { token })).status).toBe(404);
  });

  it('refuses to delete a role another role inherits, naming the heir', async () => {
    const res = await f.api('DELETE', '/roles/viewer', { token });
    expect(res.status).toBe(409);
    const body = await problem(res);
    expect(body.code).toBe('ERR_ROLE_IN_USE');
    expect(body.inheritedBy).toEqual(expect.arrayContaining(['developer', 'auditor']));
    expect(body.detail).toMatch(/inherited by .*developer/);
  });

  it('refuses to delete a role a catalogue scope needs as its minRole, listing every reason', async () => {
    expect(
      (await f.api('PUT', '/roles/release_manager', { token, json: { inherits: ['developer'] } }))
        .status,
    ).toBe(200);
    const res = await f.api('DELETE', '/roles/admin', { token });
    expect(res.status).toBe(409);
    const body = await problem(res);
    expect(body).toMatchObject({ scopes: ['mcp:admin'], users: 1 });
    expect(body.detail).toBe(
      'role admin is assigned to 1 user(s) and 0 client(s); is the minRole of scope(s) mcp:admin',
    );
  });

  it('refuses a change that would create an inheritance cycle with 409 naming the cycle, and changes nothing', async () => {
    const res = await f.api('PATCH', '/roles/viewer', {
      token,
      json: { inherits: ['senior_developer'] },
    });
    expect(res.status).toBe(409);
    const body = await problem(res);
    expect(body.code).toBe('ERR_ROLE_CYCLE');
    // The loop is reported from wherever the walk entered it: check it is closed and complete.
    const cycle = body.cycle as string[];
    expect(cycle.at(0)).toBe(cycle.at(-1));
    expect([...cycle].sort()).toEqual(['developer', 'senior_developer', 'viewer', cycle[0]].sort());
    expect(body.detail).toContain(cycle.join(' -> '));
    expect(await (await f.api('GET', '/roles/viewer', { token })).json()).toMatchObject({
      inherits: [],
    });

    const self = await post({ name: 'narcissus', inherits: ['narcissus'] });
    expect(self.status).toBe(409);
    expect((await problem(self)).cycle).toEqual(['narcissus', 'narcissus']);
  });

  it('refuses an unknown parent role with 400 naming it', async () => {
    const res = await post({ name: 'orphan', inherits: ['viewer', 'no_such_role'] });
    expect(res.status).toBe(400);
    expect(await problem(res)).toMatchObject({
      code: 'ERR_ROLE_UNKNOWN_PARENT',
      role: 'orphan',
      parent: 'no_such_role',
    });
    expect((await f.api('GET', '/roles/orphan', { token })).status).toBe(404);
  });

  it('records every role change in the audit log with the admin as actor', async () => {
    await f.t.server.audit.flush();
    const rows = await f.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'action', 'client_id', 'data'])
      .where('action', 'like', 'role.%')
      .orderBy('seq')
      .execute();
    expect(rows.map((r) => r.action)).toEqual([
      'role.created',
      'role.created',
      'role.replaced',
      'role.updated',
      'role.created',
      'role.deleted',
      'role.replaced',
    ]);
    expect(rows.every((r) => r.actor === f.adminId && r.client_id === 'admin-cli')).toBe(true);
    expect(rows[0]!.data).toMatchObject({
      role: 'release_manager',
      after: { inherits: ['developer'] },
    });
  });
});
