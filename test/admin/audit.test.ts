import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { databaseKinds } from '../helpers/databases.ts';
import { problem, startAdminFixture, type AdminFixture } from './fixture.ts';

type Verification = {
  ok: boolean;
  count: number;
  brokenAt?: { kind: string; seq: string; id: string; reason: string };
};

describe.each(databaseKinds())('admin API: audit (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
  });
  afterAll(async () => f?.close());

  const verify = async () => {
    const res = await f.api('GET', '/audit/verify', { token });
    expect(res.status).toBe(200);
    return (await res.json()) as Verification;
  };

  it('writes an audit event for every admin change, with the admin as actor and no secret in it', async () => {
    await f.api('POST', '/roles', { token, json: { name: 'auditor', inherits: ['viewer'] } });
    const user = (await (
      await f.api('POST', '/users', {
        token,
        json: { email: 'a@example.com', password: 'secret password 1' },
      })
    ).json()) as { id: string };
    await f.api('POST', `/users/${user.id}/password`, {
      token,
      json: { password: 'another secret 1' },
    });
    await f.api('POST', '/groups', { token, json: { name: 'release-board', members: [user.id] } });
    await f.api('POST', '/clients', { token, json: { id: 'agent-7', roles: ['viewer'] } });

    await f.t.server.audit.flush();
    const rows = await f.t.server.db.db
      .selectFrom('audit_event')
      .select(['actor', 'action', 'subject', 'data'])
      .where('actor', '=', f.adminId)
      .where('action', 'not like', 'login%')
      .where('action', 'not like', 'consent%')
      .where('action', 'not like', 'elevation%')
      .orderBy('seq')
      .execute();
    expect(rows.map((r) => r.action)).toEqual([
      'role.created',
      'user.created',
      'user.password_reset',
      'group.created',
      'client.created',
    ]);
    expect(rows[1]).toMatchObject({
      subject: user.id,
      data: { email: 'a@example.com', generatedByServer: false },
    });
    expect(JSON.stringify(rows)).not.toMatch(/secret password|another secret|scrypt\$/);
  });

  it('reports an intact chain', async () => {
    const result = await verify();
    expect(result.ok).toBe(true);
    expect(result.count).toBeGreaterThanOrEqual(5);
    expect(result.brokenAt).toBeUndefined();
  });

  it('reports the very row whose data was changed directly in the database', async () => {
    await f.t.server.audit.flush();
    const target = await f.t.server.db.db
      .selectFrom('audit_event')
      .select(['seq', 'id'])
      .where('action', '=', 'group.created')
      .executeTakeFirstOrThrow();
    const before = await f.t.server.db.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('seq', '<', target.seq)
      .executeTakeFirstOrThrow();
    await sql`update audit_event set data = ${JSON.stringify({ group: 'release-board', members: [] })}::jsonb where seq = ${target.seq}`.execute(
      f.t.server.db.db,
    );

    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toEqual({
      kind: 'edited',
      seq: String(target.seq),
      id: target.id,
      reason: 'content does not match its hash',
    });
    expect(result.count).toBe(Number(before.n));
  });

  it('answers 503 naming the source, not a bare 500, when the checkpoint folder cannot be read', async () => {
    // A `.jws` entry that is a folder: the checkpoint folder can no longer be read as files.
    const dir = f.t.server.config.auditCheckpoints.dir;
    await mkdir(join(dir, '9999-12-31.jws'), { recursive: true });
    const res = await f.api('GET', '/audit/verify', { token });
    expect(res.status).toBe(503);
    const body = await problem(res);
    expect(body.code).toBe('ERR_AUDIT_SOURCE');
    expect(body.detail).toMatch(/^checkpoints .*audit-checkpoints: EISDIR/);
  });
});
