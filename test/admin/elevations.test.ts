import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { databaseKinds } from '../helpers/databases.ts';
import type { ElevationRequest } from '../../src/elevation/service.ts';
import { MCP_RESOURCE, problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type Elevation = {
  id: string;
  state: string;
  subject: string;
  clientId: string;
  scopes: string[];
  resource: string;
  ticketId: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
};
type Page<T> = { items: T[]; nextCursor: string | null };
type AuditEvent = {
  actor: string;
  action: string;
  subject: string;
  clientId: string;
  data: Record<string, unknown>;
};

describe.each(databaseKinds())('admin API: elevations (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;
  let devId: string;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
    devId = (
      await f.t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password 1',
        roles: ['developer'],
      })
    ).id;
  });
  afterAll(async () => f?.close());

  /** Grants `mcp:deploy:staging` (no approval needed) to the developer through `client`. */
  async function grant(client = 'c'): Promise<string> {
    const req: ElevationRequest = {
      principal: { kind: 'user', id: devId, roles: ['developer'] },
      clientId: client,
      scopes: ['mcp:deploy:staging'],
      resource: MCP_RESOURCE,
      justification: 'x',
      channel: 'ciba',
      ref: randomUUID(),
    };
    const outcome = await f.t.server.elevation.request(req);
    if (outcome.status !== 'granted') throw new Error('expected a granted elevation');
    return outcome.elevation.id;
  }

  const list = async (qs: string) => {
    const res = await f.api('GET', `/elevations?${qs}`, { token });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Page<Elevation>;
  };

  it('lists a granted elevation as live, newest first, filtered by subject and client', async () => {
    const older = await grant('c');
    const newer = await grant('other-agent');
    const mine = await list(`subject=${devId}`);
    expect(mine.items.map((e) => e.id)).toEqual([newer, older]);
    expect(mine.items[1]).toMatchObject({
      state: 'live',
      subject: devId,
      clientId: 'c',
      scopes: ['mcp:deploy:staging'],
      resource: MCP_RESOURCE,
      ticketId: null,
      expiresAt: null,
      revokedAt: null,
      revokedBy: null,
    });
    expect((await list(`subject=${devId}&client=c`)).items.map((e) => e.id)).toEqual([older]);
    expect((await list('subject=nobody')).items).toEqual([]);
  });

  it('revokes an elevation once: the admin is the revoker, a second revoke is 409, an unknown id 404', async () => {
    const id = await grant();
    const res = await f.api('POST', `/elevations/${id}/revoke`, { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id,
      state: 'revoked',
      revokedBy: f.adminId,
      revokedAt: expect.any(String),
    });

    const again = await f.api('POST', `/elevations/${id}/revoke`, { token });
    expect(again.status).toBe(409);
    expect(await problem(again)).toMatchObject({
      code: 'ERR_ALREADY_REVOKED',
      revokedBy: f.adminId,
    });

    const unknown = await f.api('POST', `/elevations/${randomUUID()}/revoke`, { token });
    expect(unknown.status).toBe(404);
    expect((await problem(unknown)).code).toBe('ERR_NOT_FOUND');
    expect(await (await f.api('GET', `/elevations/${id}`, { token })).json()).toMatchObject({
      id,
      state: 'revoked',
    });
  });

  it('audits the revocation once, with the admin as actor, and tells the verifiers through the revocation feed', async () => {
    const id = await grant();
    expect((await f.api('POST', `/elevations/${id}/revoke`, { token })).status).toBe(200);
    expect((await f.api('POST', `/elevations/${id}/revoke`, { token })).status).toBe(409);
    const audit = (await (
      await f.api('GET', `/audit?action=elevation.revoked&subject=${devId}`, { token })
    ).json()) as Page<AuditEvent>;
    const events = audit.items.filter((e) => e.data.elevation === id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: f.adminId,
      subject: devId,
      clientId: 'c',
      data: { scopes: ['mcp:deploy:staging'] },
    });
    const feed = await f.t.server.elevation.revokedSince('0');
    expect(feed.map((r) => r.id)).toContain(id);
  });

  it('splits elevations by live=true and live=false', async () => {
    const live = await grant('split');
    const revoked = await grant('split');
    await f.api('POST', `/elevations/${revoked}/revoke`, { token });
    // Past its claim window without a token: lapsed, no longer usable.
    const lapsed = await grant('split');
    await f.t.server.db.db
      .updateTable('elevation')
      .set({ claim_by: new Date(Date.now() - 1000) })
      .where('id', '=', lapsed)
      .execute();

    const ids = async (qs: string) =>
      (await list(`client=split&${qs}`)).items.map((e) => [e.id, e.state]);
    expect(await ids('live=true')).toEqual([[live, 'live']]);
    expect(await ids('live=false')).toEqual([
      [lapsed, 'lapsed'],
      [revoked, 'revoked'],
    ]);
    expect(await ids('')).toHaveLength(3);
  });

  it('pages through elevations granted within the same millisecond without duplicates or gaps', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await grant('burst'));
    // Same millisecond, different microseconds, and ties: what a millisecond cursor would get wrong.
    for (const [i, id] of ids.entries()) {
      await sql`update elevation set created_at = ${['2031-01-01 00:00:00.000100+00', '2031-01-01 00:00:00.000400+00', '2031-01-01 00:00:00.000900+00'][i % 3]}::timestamptz where id = ${id}`.execute(
        f.t.server.db.db,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<Elevation> = await list(
        `client=burst&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.toSorted()).toEqual(ids.toSorted());
    expect(new Set(seen).size).toBe(7);
    // Newest first: the .000900 group, then .000400, then .000100.
    expect(seen.map((id) => ids.indexOf(id) % 3)).toEqual([2, 2, 1, 1, 0, 0, 0]);
  });

  it('answers bad filters with 400 naming the field', async () => {
    for (const [qs, field] of [
      ['live=yes', 'live'],
      ['limit=-1', 'limit'],
      ['cursor=abc', 'cursor'],
      ['state=live', 'state'],
    ]) {
      const res = await f.api('GET', `/elevations?${qs}`, { token });
      expect(res.status, qs).toBe(400);
      expect(
        (await problem(res)).errors!.map((e) => e.path),
        qs,
      ).toContain(field);
    }
  });
});
