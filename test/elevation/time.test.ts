import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CIBA, RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';
import { TestClock } from '../helpers/clock.ts';

const BASE = ['mcp:resources:read', 'mcp:tools:read'];

/**
 * ARCHITECTURE.md §6's time rules on the server's own clock, moved forward instead of waited for: ticket
 * expiry (15 minutes), the claim window of an unused elevation (10 minutes), the window of an
 * elevation (1 hour) and the CIBA polling interval.
 */
describe.each(databaseKinds())('elevation time on the server clock (%s)', (kind) => {
  const clock = new TestClock();
  let t: TestServer;
  let agent: client.Configuration;
  let dev: client.TokenEndpointResponse;
  let senior: client.TokenEndpointResponse;
  let leadId: string;

  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' }, undefined, {
      currentDate: clock.currentDate,
    });
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'dev password',
      roles: ['developer'],
    });
    await t.server.users.create({
      email: 'senior@example.com',
      password: 'senior password',
      roles: ['senior_developer'],
    });
    leadId = (
      await t.server.users.create({
        email: 'lead@example.com',
        password: 'lead password',
        roles: ['viewer'],
        groups: ['tech-lead'],
      })
    ).id;
    agent = await registerAgent(t);
    dev = await userToken(agent, 'dev@example.com', 'dev password');
    senior = await userToken(agent, 'senior@example.com', 'senior password');
  });
  afterEach(() => clock.reset());
  afterAll(async () => t?.close());

  /** One CIBA poll as raw HTTP, so that pending answers are visible. */
  const poll = async (authReqId: string) => {
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('agent:agent-secret-value').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: CIBA, auth_req_id: authReqId }),
    });
    return ((await res.json()) as { error?: string }).error;
  };

  it('a decision after the ticket expired records nothing and closes it as expired', async () => {
    const started = await requestElevation(agent, senior.access_token, 'mcp:deploy:production');
    const ticket = (await t.server.elevation.ticketByRef(started.auth_req_id))!;
    clock.advance(900);
    await expect(t.server.elevation.decide(ticket.id, leadId, 'approve')).rejects.toMatchObject({
      code: 'ERR_TICKET_CLOSED',
    });
    const closed = (await t.server.elevation.ticket(ticket.id))!;
    expect(closed.status).toBe('expired');
    expect(closed.elevation_id).toBeNull();
    const decisions = await t.server.db.db
      .selectFrom('ticket_decision')
      .select('approver_id')
      .where('ticket_id', '=', ticket.id)
      .execute();
    expect(decisions).toEqual([]);
  });

  it('the expiry sweep closes a pending ticket 15 minutes after it opened, not before', async () => {
    const before = Date.now();
    const started = await requestElevation(agent, senior.access_token, 'mcp:deploy:production');
    const after = Date.now();
    const ticket = (await t.server.elevation.ticketByRef(started.auth_req_id))!;
    expect(ticket.expires_at.getTime()).toBeGreaterThanOrEqual(before + 900_000);
    expect(ticket.expires_at.getTime()).toBeLessThanOrEqual(after + 900_000);
    clock.advance(600);
    await t.server.elevation.expireDue();
    expect((await t.server.elevation.ticket(ticket.id))!.status).toBe('pending');
    clock.advance(300);
    expect(await t.server.elevation.expireDue()).toBeGreaterThanOrEqual(1);
    expect((await t.server.elevation.ticket(ticket.id))!.status).toBe('expired');
    await t.server.audit.flush();
    const events = await t.server.db.db
      .selectFrom('audit_event')
      .select('data')
      .where('action', '=', 'ticket.expired')
      .execute();
    expect(events.map((e) => (e.data as { ticket?: string }).ticket)).toContain(ticket.id);
  });

  it('an elevation no token claimed within 10 minutes lapses: the late first poll gets base scopes', async () => {
    const started = await requestElevation(agent, dev.access_token, 'mcp:deploy:staging');
    clock.advance(601);
    const tokens = await pollDecided(agent, started, { resource: RESOURCE });
    const claims = decodeJwt(tokens.access_token);
    expect(String(claims.scope).split(' ').sort()).toEqual(BASE);
    expect(claims.elevation).toBeUndefined();
  });

  it('a token claimed inside the window is elevated until the window ends, then a refresh is not', async () => {
    const refreshing = await registerAgent(t, 'refresh-agent');
    const tokens = await userToken(
      refreshing,
      'dev@example.com',
      'dev password',
      'openid offline_access mcp:tools:read mcp:deploy:staging',
    );
    const first = decodeJwt(tokens.access_token);
    expect(String(first.scope).split(' ')).toContain('mcp:deploy:staging');
    // oidc-provider's `iat` is whole seconds on the real clock: stay well inside the hour.
    clock.freeze();
    clock.advance(3000);
    const inside = await client.refreshTokenGrant(refreshing, tokens.refresh_token!, {
      resource: RESOURCE,
    });
    const insideClaims = decodeJwt(inside.access_token);
    expect(insideClaims.elevation).toBe(first.elevation);
    // Bound to the window its first token started: never past it.
    expect(insideClaims.exp).toBeLessThanOrEqual(first.exp!);
    clock.advance(601);
    const after = await client.refreshTokenGrant(refreshing, inside.refresh_token!, {
      resource: RESOURCE,
    });
    const afterClaims = decodeJwt(after.access_token);
    expect(String(afterClaims.scope).split(' ').sort()).toEqual(BASE);
    expect(afterClaims.elevation).toBeUndefined();
  });

  it('slow_down holds for the polling interval on the server clock, then polling may resume', async () => {
    const started = await requestElevation(agent, senior.access_token, 'mcp:deploy:production');
    // Frozen, so that a slow machine cannot stretch the gap between two polls past the interval.
    clock.freeze();
    expect(await poll(started.auth_req_id)).toBe('authorization_pending');
    expect(await poll(started.auth_req_id)).toBe('slow_down');
    clock.advance(1);
    expect(await poll(started.auth_req_id)).toBe('authorization_pending');
    expect(await poll(started.auth_req_id)).toBe('slow_down');
  });
});
