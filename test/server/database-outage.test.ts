import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';

// Needs a real PostgreSQL to cut the connection to; PGlite runs in-process.
describe.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL outage while a ticket is pending', () => {
  let db: TestDatabase;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let t: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const url = new URL(db.url!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    t = await startTestServer(
      'postgres',
      { CIBA_POLL_INTERVAL: '1' },
      {
        db: { ...db, url: url.toString() },
        dataDir: await import('node:os').then((os) => os.tmpdir()),
        port: await freePort(),
      },
    );
  });
  afterAll(async () => {
    await t?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 with Retry-After during the outage and completes the elevation after it', async () => {
    await t.server.users.create({
      email: 'senior@example.com',
      password: 'senior password',
      roles: ['senior_developer'],
    });
    const lead = await t.server.users.create({
      email: 'lead@example.com',
      password: 'lead password',
      roles: ['viewer'],
      groups: ['tech-lead'],
    });
    const agent = await registerAgent(t);
    const user = await userToken(agent, 'senior@example.com', 'senior password');
    const started = await requestElevation(agent, user.access_token, 'mcp:deploy:production');

    await proxy.cut();
    const poll = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from('agent:agent-secret-value').toString('base64'),
      },
      body: new URLSearchParams({
        grant_type: 'urn:openid:params:grant-type:ciba',
        auth_req_id: started.auth_req_id,
      }),
    });
    expect(poll.status).toBe(503);
    expect(poll.headers.get('retry-after')).toBe('5');
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(503);
    const page = await fetch(`${t.url}/approvals/login`, { headers: { accept: 'text/html' } });
    expect(page.status).toBeLessThan(500);

    await proxy.restore();
    // The pool reconnects on the next query; the pending ticket is intact.
    const ticket = await t.server.elevation.ticketByRef(started.auth_req_id);
    expect(ticket?.status).toBe('pending');
    await t.server.elevation.decide(ticket!.id, lead.id, 'approve');
    const tokens = await client.pollBackchannelAuthenticationGrant(agent, started, {
      resource: RESOURCE,
    });
    expect(tokens.access_token).toBeTruthy();
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  }, 120_000);
});
