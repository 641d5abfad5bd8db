import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type Group = { name: string; description: string; members: string[] };
type Client = {
  id: string;
  grantTypes: string[];
  roles: string[];
  scopes: string[];
  clientSecret?: string;
};

describe.each(databaseKinds())('admin API: groups and clients (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  let userId: string;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
    userId = (
      await f.t.server.users.create({ email: 'member@example.com', password: 'member password 1' })
    ).id;
  });
  afterAll(async () => f?.close());

  it('creates, changes, fills and deletes an approver group', async () => {
    const created = await f.api('POST', '/groups', {
      token,
      json: { name: 'release-board', description: 'Approves releases', members: [userId] },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'release-board', members: [userId] });
    expect(
      (await problem(await f.api('POST', '/groups', { token, json: { name: 'release-board' } })))
        .status,
    ).toBe(409);

    const patched = await f.api('PATCH', '/groups/release-board', {
      token,
      json: { description: 'Approves big releases' },
    });
    expect(((await patched.json()) as Group).description).toBe('Approves big releases');
    const emptied = await f.api('PUT', '/groups/release-board/members', {
      token,
      json: { members: [f.adminId, userId, f.adminId] },
    });
    expect(((await emptied.json()) as Group).members.sort()).toEqual([f.adminId, userId].sort());
    const unknown = await problem(
      await f.api('PUT', '/groups/release-board/members', { token, json: { members: ['ghost'] } }),
    );
    expect(unknown).toMatchObject({ status: 400, user: ['ghost'] });

    const list = (await (await f.api('GET', '/groups', { token })).json()) as { items: Group[] };
    expect(list.items.map((g) => g.name)).toEqual([
      'release-board',
      'security-team',
      'sre-oncall',
      'tech-lead',
    ]);
    expect(
      (
        (await f.api('GET', `/users/${userId}`, { token }).then((r) => r.json())) as {
          groups: string[];
        }
      ).groups,
    ).toEqual(['release-board']);
    expect((await f.api('DELETE', '/groups/release-board', { token })).status).toBe(204);
    expect((await f.api('GET', '/groups/release-board', { token })).status).toBe(404);
  });

  it('refuses to delete a group that approves a catalogue scope', async () => {
    const res = await f.api('DELETE', '/groups/tech-lead', { token });
    expect(res.status).toBe(409);
    expect(await problem(res)).toMatchObject({
      code: 'ERR_GROUP_IN_USE',
      scopes: ['mcp:deploy:production'],
    });
  });

  it('registers an agent whose secret is shown once and whose own roles reach its client_credentials token', async () => {
    const res = await f.api('POST', '/clients', {
      token,
      json: {
        id: 'deploy-bot',
        name: 'Deploy bot',
        roles: ['developer'],
        scopes: ['mcp:tools:read', 'mcp:deploy:staging'],
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/admin/v1/clients/deploy-bot');
    const created = (await res.json()) as Client;
    expect(created).toMatchObject({
      id: 'deploy-bot',
      grantTypes: ['client_credentials'],
      roles: ['developer'],
      scopes: ['mcp:deploy:staging', 'mcp:tools:read'],
    });
    expect(created.clientSecret).toBeTruthy();

    const got = await (await f.api('GET', '/clients/deploy-bot', { token })).text();
    expect(got).not.toContain(created.clientSecret!);
    expect(Object.keys(JSON.parse(got) as object)).not.toContain('clientSecret');
    const page = await (await f.api('GET', '/clients', { token })).text();
    expect(page).not.toContain(created.clientSecret!);

    const grant = () =>
      fetch(`${f.t.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`deploy-bot:${created.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: MCP_RESOURCE,
          scope: 'mcp:tools:read',
        }),
      });
    const tokenRes = await grant();
    expect(tokenRes.status).toBe(200);
    expect(
      decodeJwt(((await tokenRes.json()) as { access_token: string }).access_token).roles,
    ).toEqual(['developer', 'viewer']);

    const roles = await f.api('PUT', '/clients/deploy-bot/roles', {
      token,
      json: { roles: ['viewer'] },
    });
    expect(((await roles.json()) as Client).roles).toEqual(['viewer']);
    const scopes = await f.api('PUT', '/clients/deploy-bot/scopes', {
      token,
      json: { scopes: ['mcp:tools:read'] },
    });
    expect(((await scopes.json()) as Client).scopes).toEqual(['mcp:tools:read']);

    expect((await f.api('DELETE', '/clients/deploy-bot', { token })).status).toBe(204);
    expect((await f.api('GET', '/clients/deploy-bot', { token })).status).toBe(404);
    expect((await grant()).status).toBe(401);
  });

  it("rotates a client's secret: the new one shown once works, the old one stops at once, the event holds no secret", async () => {
    const created = (await (
      await f.api('POST', '/clients', { token, json: { id: 'rotating-bot' } })
    ).json()) as Client;
    const grant = (secret: string) =>
      fetch(`${f.t.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`rotating-bot:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: MCP_RESOURCE }),
      });
    expect((await grant(created.clientSecret!)).status).toBe(200);

    const res = await f.api('POST', '/clients/rotating-bot/secret', { token });
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as Client;
    expect(rotated).toMatchObject({ id: 'rotating-bot' });
    expect(rotated.clientSecret).toMatch(/^[\w-]{32}$/);
    expect(rotated.clientSecret).not.toBe(created.clientSecret);
    expect((await grant(created.clientSecret!)).status).toBe(401);
    expect((await grant(rotated.clientSecret!)).status).toBe(200);
    const got = await (await f.api('GET', '/clients/rotating-bot', { token })).text();
    expect(got).not.toContain(rotated.clientSecret!);

    await f.t.server.audit.flush();
    const events = await f.t.server.db.db
      .selectFrom('audit_event')
      .select(['data'])
      .where('action', '=', 'client.secret_rotated')
      .execute();
    expect(events).toHaveLength(1);
    const data = JSON.stringify(events[0]!.data);
    expect(data).toContain('rotating-bot');
    expect(data).not.toContain(rotated.clientSecret!);
    expect(data).not.toContain(created.clientSecret!);

    // A client without a secret has none to rotate; an unknown client is a 404.
    await f.api('POST', '/clients', {
      token,
      json: { id: 'public-app', redirectUris: ['http://127.0.0.1:9/cb'] },
    });
    const none = await f.api('POST', '/clients/public-app/secret', { token });
    expect(none.status).toBe(400);
    expect((await problem(none)).detail).toBe(
      'client public-app authenticates with none and has no secret to rotate',
    );
    expect((await f.api('POST', '/clients/no-such-client/secret', { token })).status).toBe(404);
    for (const id of ['rotating-bot', 'public-app'])
      expect((await f.api('DELETE', `/clients/${id}`, { token })).status).toBe(204);
  });

  it('refuses unknown roles and scopes, duplicate ids and invalid metadata without registering anything', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ id: 'bot-a', roles: ['wizard'] }, 400, /wizard/],
      [{ id: 'bot-b', scopes: ['mcp:teleport'] }, 400, /mcp:teleport/],
      [{ id: 'bot-c', grantTypes: ['authorization_code'] }, 400, /redirect_uris/],
      [{ id: 'admin-cli' }, 409, /admin-cli/],
    ];
    for (const [json, status, detail] of cases) {
      const res = await f.api('POST', '/clients', { token, json });
      expect(res.status).toBe(status);
      expect((await problem(res)).detail).toMatch(detail);
    }
    const ids = (
      (await (await f.api('GET', '/clients', { token })).json()) as { items: Client[] }
    ).items.map((c) => c.id);
    expect(ids).toEqual(['admin-cli']);
    expect(
      (
        await problem(
          await f.api('PUT', '/clients/admin-cli/scopes', { token, json: { scopes: ['nope:x'] } }),
        )
      ).status,
    ).toBe(400);
    expect(
      (await problem(await f.api('PUT', '/clients/ghost/roles', { token, json: { roles: [] } })))
        .status,
    ).toBe(404);
  });
});
