import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createAdapterFactory, deleteExpiredPayloads } from '../../src/oidc/adapter.ts';

describe.each(databaseKinds())('oidc-provider storage on the database (%s)', (kind) => {
  let t: TestServer;
  let Adapter: ReturnType<typeof createAdapterFactory>;
  beforeAll(async () => {
    t = await startTestServer(kind);
    Adapter = createAdapterFactory(t.server.db.db);
  });
  afterAll(async () => t?.close());

  it('never returns an expired artifact, and the cleanup job deletes only expired rows', async () => {
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('live', { jti: 'live', grantId: 'g1' } as never, 60);
    await codes.upsert('gone', { jti: 'gone', grantId: 'g1' } as never, 1);
    await t.server.db.db
      .updateTable('oidc_payload')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', 'gone')
      .execute();
    expect(await codes.find('gone')).toBeUndefined();
    expect(await codes.find('live')).toMatchObject({ jti: 'live' });
    expect(await deleteExpiredPayloads(t.server.db.db)).toBeGreaterThanOrEqual(1);
    const left = await t.server.db.db
      .selectFrom('oidc_payload')
      .select('id')
      .where('id', 'in', ['live', 'gone'])
      .execute();
    expect(left.map((r) => r.id)).toEqual(['live']);
  });

  it('marks a consumed artifact and revokes everything of a grant', async () => {
    const tokens = new Adapter('RefreshToken');
    await tokens.upsert('r1', { jti: 'r1', grantId: 'g2' } as never, 60);
    await tokens.consume('r1');
    expect((await tokens.find('r1'))?.consumed).toEqual(expect.any(Number));
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('c2', { jti: 'c2', grantId: 'g2' } as never, 60);
    await tokens.revokeByGrantId('g2');
    expect(await tokens.find('r1')).toBeUndefined();
    expect(await codes.find('c2')).toBeUndefined();
  });

  it('serves a client registered after a miss at once (no negative caching)', async () => {
    const clients = new Adapter('Client');
    expect(await clients.find('late-client')).toBeUndefined();
    await t.server.db.db
      .insertInto('oidc_payload')
      .values({
        model: 'Client',
        id: 'late-client',
        payload: JSON.stringify({ client_id: 'late-client' }),
        grant_id: null,
        user_code: null,
        uid: null,
        expires_at: null,
        consumed_at: null,
      })
      .execute();
    expect(await clients.find('late-client')).toMatchObject({ client_id: 'late-client' });
  });
});
