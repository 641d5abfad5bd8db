import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { RESOURCE, registerAgent } from '../helpers/agents.ts';
import {
  CLIENT_AUTH_FAILED,
  HINT_REFUSED,
  SECURITY_CLIENTS_PER_WINDOW,
  SECURITY_EVENTS_PER_CLIENT,
  SECURITY_WINDOW_MS,
  SecurityEvents,
} from '../../src/audit/security-events.ts';
import type { AuditInput } from '../../src/audit/audit-log.ts';

const WRONG = 'wrong-secret-never-stored-42';
const basic = (id: string, secret: string) =>
  'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

/**
 * Failed client authentications and refused CIBA hints are security audit events (not only log
 * lines), never with the secret or the hint, and a flood of them writes a bounded number.
 */
describe.each(databaseKinds())('security audit events (%s)', { timeout: 120_000 }, (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
    await registerAgent(t, 'agent');
  }, 240_000);
  afterAll(async () => t?.close());

  const post = (path: string, body: Record<string, string>, authorization?: string) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(authorization ? { authorization } : {}),
      },
      body: new URLSearchParams(body),
    });

  async function read(action: string, clientId: string | null) {
    await t.server.audit.flush();
    let q = t.server.db.db.selectFrom('audit_event').selectAll().where('action', '=', action);
    q = clientId === null ? q.where('client_id', 'is', null) : q.where('client_id', '=', clientId);
    return q.orderBy('seq').execute();
  }

  /**
   * The events recorded so far, once `count` of them are in the log. Security events are written
   * moments after the answer (off the request's path), so a reader right after the requests may
   * come before the last insert: it waits for them, at most 10 s, then shows what is there.
   */
  async function events(action: string, clientId: string | null, count = 1) {
    const deadline = Date.now() + 10_000;
    let rows = await read(action, clientId);
    while (rows.length < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await read(action, clientId);
    }
    return rows;
  }

  it('a wrong secret at /token and an unknown client at /token/introspection are audited, without the secret', async () => {
    const token = await post('/token', { grant_type: 'client_credentials' }, basic('agent', WRONG));
    expect(token.status).toBe(401);
    const introspection = await post('/token/introspection', {
      token: 'x',
      client_id: 'nobody-here',
      client_secret: WRONG,
    });
    expect(introspection.status).toBe(401);
    const [wrong] = await events(CLIENT_AUTH_FAILED, 'agent');
    expect(wrong).toMatchObject({
      result: 'failure',
      data: {
        reason: 'wrong_secret',
        presented: 'client_secret_basic',
        registered: 'client_secret_basic',
        endpoint: 'token',
      },
    });
    const [unknown] = await events(CLIENT_AUTH_FAILED, 'nobody-here');
    expect(unknown).toMatchObject({
      data: {
        reason: 'unknown_client',
        presented: 'client_secret_post',
        endpoint: 'introspection',
      },
    });
    const all = JSON.stringify(
      await t.server.db.db.selectFrom('audit_event').selectAll().execute(),
    );
    expect(all).not.toContain(WRONG);
    expect((await t.server.audit.verify()).ok).toBe(true);
  });

  it('a flood of failures for one client writes a bounded number of events', async () => {
    const flood = await Promise.all(
      Array.from({ length: 40 }, () =>
        post('/token', { grant_type: 'client_credentials' }, basic('flooded', WRONG)),
      ),
    );
    expect(flood.every((r) => r.status === 401)).toBe(true);
    expect(await events(CLIENT_AUTH_FAILED, 'flooded', SECURITY_EVENTS_PER_CLIENT)).toHaveLength(
      SECURITY_EVENTS_PER_CLIENT,
    );
  });

  it('refused CIBA hints (id_token_hint, a login_hint_token that is no token of ours, a foreign login_hint) are audited, without the hint', async () => {
    const hint = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.not-a-token-of-ours';
    const ask = (params: Record<string, string>) =>
      post(
        '/backchannel',
        {
          scope: 'openid mcp:deploy:staging',
          resource: RESOURCE,
          binding_message: 'hotfix',
          ...params,
        },
        basic('agent', 'agent-secret-value'),
      );
    expect((await ask({ id_token_hint: hint })).status).toBe(400);
    expect((await ask({ login_hint_token: hint })).status).toBe(400);
    expect((await ask({ login_hint: 'someone-else' })).status).toBe(400);
    const refused = await events(HINT_REFUSED, 'agent', 3);
    // Written off the request's path, so the log's order need not be the requests' order.
    expect(refused.map((e) => [e.result, (e.data as { hint: string }).hint]).sort()).toEqual([
      ['denied', 'id_token_hint'],
      ['denied', 'login_hint'],
      ['denied', 'login_hint_token'],
    ]);
    expect(refused.map((e) => (e.data as { error: string }).error)).toEqual([
      'invalid_request',
      'invalid_request',
      'invalid_request',
    ]);
    expect(JSON.stringify(refused)).not.toContain(hint);
  });
});

describe('security events under a flood, over time', () => {
  function recorder() {
    const written: AuditInput[] = [];
    let now = 1_000_000;
    const events = new SecurityEvents(
      { append: async (...e: AuditInput[]) => (written.push(...e), e.length) },
      { now: () => now },
    );
    const fail = (clientId: string | null, reason = 'wrong_secret') =>
      events.record(
        { action: CLIENT_AUTH_FAILED, result: 'failure', clientId, data: { reason } },
        reason,
      );
    return { written, events, fail, advance: (ms: number) => (now += ms) };
  }

  it('writes the first events of a window, then one summary with the count of the rest', () => {
    const r = recorder();
    for (let i = 0; i < 25; i++) r.fail('bot', i % 5 ? 'wrong_secret' : 'secret_expired');
    expect(r.written).toHaveLength(SECURITY_EVENTS_PER_CLIENT);
    r.advance(SECURITY_WINDOW_MS);
    r.fail('bot');
    expect(r.written).toHaveLength(SECURITY_EVENTS_PER_CLIENT + 2);
    expect(r.written[SECURITY_EVENTS_PER_CLIENT]).toMatchObject({
      clientId: 'bot',
      data: { coalesced: 15, reasons: { wrong_secret: 12, secret_expired: 3 } },
    });
    // The new window writes its first event at once.
    expect(r.written.at(-1)).toMatchObject({ clientId: 'bot', data: { reason: 'wrong_secret' } });
  });

  it('bounds a flood of made-up client ids: those past the limit share one bucket', async () => {
    const r = recorder();
    for (let i = 0; i < 1000; i++) r.fail(`random-${i}`);
    const perClient = r.written.filter((e) => e.clientId !== null);
    expect(perClient).toHaveLength(SECURITY_CLIENTS_PER_WINDOW);
    expect(r.written.filter((e) => e.clientId === null)).toHaveLength(SECURITY_EVENTS_PER_CLIENT);
    await r.events.flush();
    expect(r.written.at(-1)).toMatchObject({
      clientId: null,
      data: { coalesced: 1000 - SECURITY_CLIENTS_PER_WINDOW - SECURITY_EVENTS_PER_CLIENT },
    });
  });
});
