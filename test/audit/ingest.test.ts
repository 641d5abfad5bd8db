import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { registerClient } from '../../src/oidc/clients.ts';

describe.each(databaseKinds())('audit ingest for verifiers (%s)', (kind) => {
  let t: TestServer;
  let token: string;
  const post = (body: unknown, auth = `Bearer ${token}`, type = 'application/json') =>
    fetch(`${t.url}/audit/v1/events`, {
      method: 'POST',
      headers: { 'content-type': type, authorization: auth },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const event = (id = randomUUID()) => ({
    id,
    time: new Date().toISOString(),
    subject: 'u1',
    clientId: 'agent',
    tool: 'deploy_service',
    params: { service: 'api', apiKey: 'sk-live-123' },
    result: 'success',
  });

  beforeAll(async () => {
    t = await startTestServer(kind);
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'mcp-server',
      secret: 'mcp-server-secret',
      scope: 'audit:write mcp:tools:read mcp:resources:read',
      mcpResource: 'http://localhost:4000/mcp',
    });
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from('mcp-server:mcp-server-secret').toString('base64'),
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: `${t.url}/audit`,
        scope: 'audit:write',
      }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => t?.close());

  it('stores 10,000 events posted twice exactly once, with a valid chain and redacted params', async () => {
    const events = Array.from({ length: 10_000 }, () => event());
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < events.length; i += 1000) {
        const res = await post({ events: events.slice(i, i + 1000) });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { accepted: number; duplicates: number };
        expect(body).toEqual(
          round === 0 ? { accepted: 1000, duplicates: 0 } : { accepted: 0, duplicates: 1000 },
        );
      }
    }
    await t.server.audit.flush();
    const { n } = await t.server.db.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('action', '=', 'tool.call')
      .executeTakeFirstOrThrow();
    expect(Number(n)).toBe(10_000);
    const sample = await t.server.db.db
      .selectFrom('audit_event')
      .select('data')
      .where('id', '=', events[0]!.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(sample.data)).not.toContain('sk-live-123');
    expect(await t.server.audit.verify()).toMatchObject({ ok: true });
  }, 120_000);

  it('refuses requests without a token, with a token lacking audit:write, or with a malformed batch', async () => {
    expect((await post({ events: [event()] }, '')).status).toBe(401);
    expect((await post({ events: [event()] }, 'Bearer not-a-token')).status).toBe(401);
    const bad = await post({ events: [{ ...event(), result: 'maybe' }] });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('result');
    expect((await post('{"events": [', undefined)).status).toBe(400);
    expect((await post({ events: Array.from({ length: 1001 }, () => event()) })).status).toBe(400);
    expect((await post({ events: [event()], extra: 1 })).status).toBe(400);
  });
});
