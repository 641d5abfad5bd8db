import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { argumentsSha256 } from '../../src/verifier/policy-client/tool-binding.ts';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CIBA, RESOURCE, registerAgent, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';

describe.each(databaseKinds())('decoupled elevation over CIBA (%s)', (kind) => {
  let t: TestServer;
  let agent: client.Configuration;
  let dev: client.TokenEndpointResponse;
  let senior: client.TokenEndpointResponse;
  let leadId: string;
  let seniorId: string;

  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'dev password',
      roles: ['developer'],
    });
    seniorId = (
      await t.server.users.create({
        email: 'senior@example.com',
        password: 'senior password',
        roles: ['senior_developer'],
        groups: ['tech-lead'],
      })
    ).id;
    leadId = (
      await t.server.users.create({
        email: 'lead@example.com',
        password: 'lead password',
        roles: ['developer'],
        groups: ['tech-lead'],
      })
    ).id;
    await t.server.users.create({
      email: 'outsider@example.com',
      password: 'outsider password',
      roles: ['admin'],
    });
    agent = await registerAgent(t);
    dev = await userToken(agent, 'dev@example.com', 'dev password');
    senior = await userToken(agent, 'senior@example.com', 'senior password');
  });
  afterAll(async () => t?.close());

  const verify = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(`${t.url}/jwks`)), {
      issuer: t.url,
      audience: RESOURCE,
      typ: 'at+jwt',
    });

  it('grants elevation without approval on the first poll, for the scope lifetime', async () => {
    const started = await requestElevation(agent, dev.access_token, 'mcp:deploy:staging');
    expect(started.interval).toBe(1);
    // One poll, straight away: no authorization_pending.
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from('agent:agent-secret-value').toString('base64'),
      },
      body: new URLSearchParams({
        grant_type: CIBA,
        auth_req_id: started.auth_req_id,
        resource: RESOURCE,
      }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string; expires_in: number };
    expect(tokens.expires_in).toBe(3600);
    const { payload } = await verify(tokens.access_token);
    expect(String(payload.scope).split(' ').sort()).toEqual([
      'mcp:deploy:staging',
      'mcp:resources:read',
      'mcp:tools:read',
    ]);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.elevation).toEqual(expect.any(String));
  });

  it('refuses an ineligible principal at once, naming the missing role', async () => {
    await expect(
      requestElevation(agent, dev.access_token, 'mcp:deploy:production'),
    ).rejects.toMatchObject({
      error: 'access_denied',
      error_description: expect.stringContaining('senior_developer'),
    });
  });

  it('waits for approval, answers slow_down to fast polls, then mints an 1800 s token', async () => {
    const started = await requestElevation(agent, senior.access_token, 'mcp:deploy:production');
    const poll = () =>
      fetch(`${t.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'Basic ' + Buffer.from('agent:agent-secret-value').toString('base64'),
        },
        body: new URLSearchParams({ grant_type: CIBA, auth_req_id: started.auth_req_id }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Record<string, string>,
      }));
    expect((await poll()).body.error).toBe('authorization_pending');
    expect((await poll()).body.error).toBe('slow_down');
    const ticket = await t.server.elevation.ticketByRef(started.auth_req_id);
    expect(ticket?.status).toBe('pending');
    expect(ticket?.justification).toBe('deploying the fix for INC-42');
    // The requester cannot approve; someone outside the approver groups cannot either.
    await expect(t.server.elevation.decide(ticket!.id, seniorId, 'approve')).rejects.toMatchObject({
      code: 'ERR_SELF_APPROVAL',
    });
    const outsider = (await t.server.users.findCredentials('outsider@example.com'))!;
    await expect(
      t.server.elevation.decide(ticket!.id, outsider.id, 'approve'),
    ).rejects.toMatchObject({ code: 'ERR_NOT_APPROVER' });
    await t.server.elevation.decide(ticket!.id, leadId, 'approve', 'ok');
    const tokens = await pollDecided(agent, started, {
      resource: RESOURCE,
    });
    const { payload } = await verify(tokens.access_token);
    expect(payload.exp! - payload.iat!).toBe(1800);
    expect(String(payload.scope).split(' ')).toContain('mcp:deploy:production');
  });

  it('ends a denied request with access_denied', async () => {
    const started = await requestElevation(agent, senior.access_token, 'mcp:deploy:production');
    const ticket = await t.server.elevation.ticketByRef(started.auth_req_id);
    await t.server.elevation.decide(ticket!.id, leadId, 'deny', 'not now');
    await expect(pollDecided(agent, started, { resource: RESOURCE })).rejects.toMatchObject({
      error: 'access_denied',
    });
  });

  it('answers an unknown or foreign auth_req_id with invalid_grant', async () => {
    const other = await registerAgent(t, 'other-agent');
    const started = await requestElevation(agent, dev.access_token, 'mcp:deploy:staging');
    await expect(pollDecided(other, started, { resource: RESOURCE })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(
      pollDecided(agent, { ...started, auth_req_id: 'nope' }, { resource: RESOURCE }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a login_hint_token that is not a token of this server for this client', async () => {
    await expect(requestElevation(agent, 'not.a.jwt', 'mcp:deploy:staging')).rejects.toMatchObject({
      error: 'invalid_request',
    });
    const other = await registerAgent(t, 'third-agent');
    await expect(
      requestElevation(other, dev.access_token, 'mcp:deploy:staging'),
    ).rejects.toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a user disabled after their token was issued, though the token was accepted before', async () => {
    await t.server.users.create({
      email: 'leaver@example.com',
      password: 'leaver password',
      roles: ['developer'],
    });
    const leaver = await userToken(agent, 'leaver@example.com', 'leaver password');
    await requestElevation(agent, leaver.access_token, 'mcp:deploy:staging');
    const { id } = (await t.server.users.list()).find((u) => u.email === 'leaver@example.com')!;
    await t.server.users.update(id, { disabled: true });
    await expect(
      requestElevation(agent, leaver.access_token, 'mcp:deploy:staging'),
    ).rejects.toMatchObject({ error: 'unknown_user_id' });
  });

  it('refuses a binding message with control characters or over 200 characters', async () => {
    await expect(
      requestElevation(agent, dev.access_token, 'mcp:deploy:staging', 'line\nbreak'),
    ).rejects.toMatchObject({ error: 'invalid_binding_message' });
    await expect(
      requestElevation(agent, dev.access_token, 'mcp:deploy:staging', 'x'.repeat(201)),
    ).rejects.toMatchObject({ error: 'invalid_binding_message' });
  });
});

describe.each(databaseKinds())('exact tool-call binding over CIBA (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
    await t.server.users.create({
      email: 'senior@example.com',
      password: 'senior password',
      roles: ['senior_developer'],
    });
    await t.server.users.create({
      email: 'lead@example.com',
      password: 'lead password',
      roles: ['viewer'],
      groups: ['tech-lead'],
    });
  });
  afterAll(async () => t?.close());

  it('shows the bound call on the ticket and carries it into the token as authorization_details', async () => {
    const agent = await registerAgent(t);
    const senior = await userToken(agent, 'senior@example.com', 'senior password');
    const args = { service: 'api', environment: 'production', version: '1.4.2' };
    const detail = {
      type: 'mcp_tool_call',
      tool: 'deploy_service',
      arguments_sha256: argumentsSha256(args),
    };
    const started = await client.initiateBackchannelAuthentication(agent, {
      scope: 'openid mcp:deploy:production',
      login_hint_token: senior.access_token,
      binding_message: 'deploy 1.4.2',
      resource: RESOURCE,
      authorization_details: JSON.stringify([detail]),
    });
    const ticket = await t.server.elevation.ticketByRef(started.auth_req_id);
    expect(ticket?.tool_call).toEqual({
      tool: 'deploy_service',
      argumentsSha256: detail.arguments_sha256,
    });
    const lead = (await t.server.users.findCredentials('lead@example.com'))!;
    await t.server.elevation.decide(ticket!.id, lead.id, 'approve');
    const tokens = await pollDecided(agent, started, {
      resource: RESOURCE,
    });
    const claims = decodeJwt(tokens.access_token);
    expect(claims.authorization_details).toEqual([detail]);
  });

  it('refuses a malformed mcp_tool_call detail', async () => {
    const agent = await registerAgent(t, 'agent-2');
    const senior = await userToken(agent, 'senior@example.com', 'senior password');
    await expect(
      client.initiateBackchannelAuthentication(agent, {
        scope: 'openid mcp:deploy:production',
        login_hint_token: senior.access_token,
        resource: RESOURCE,
        authorization_details: JSON.stringify([
          { type: 'mcp_tool_call', tool: 'deploy_service', arguments_sha256: 'nope' },
        ]),
      }),
    ).rejects.toMatchObject({ error: 'invalid_authorization_details' });
  });
});

describe.each(databaseKinds())('an agent elevating itself over CIBA (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
  });
  afterAll(async () => t?.close());

  it('gets its own elevated token with login_hint = its client_id, within its own roles', async () => {
    const bot = await registerAgent(t, 'deploy-bot', ['developer']);
    const started = await client.initiateBackchannelAuthentication(bot, {
      scope: 'openid mcp:deploy:staging',
      login_hint: 'deploy-bot',
      binding_message: 'nightly staging deploy',
      resource: RESOURCE,
    });
    const tokens = await pollDecided(bot, started, {
      resource: RESOURCE,
    });
    const claims = decodeJwt(tokens.access_token);
    expect(claims.sub).toBe('deploy-bot');
    expect(String(claims.scope).split(' ')).toContain('mcp:deploy:staging');
    expect(claims.roles).toEqual(['developer', 'viewer']);
    // Beyond its roles it is refused, with a 403 (CIBA §13).
    const refused = await fetch(`${t.url}/backchannel`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'Basic ' + Buffer.from('deploy-bot:deploy-bot-secret-value').toString('base64'),
      },
      body: new URLSearchParams({
        scope: 'openid mcp:deploy:production',
        login_hint: 'deploy-bot',
        binding_message: 'production deploy',
        resource: RESOURCE,
      }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error_description: string }).error_description).toContain(
      'senior_developer',
    );
    // And it cannot name another client (or a user) as login_hint.
    await expect(
      client.initiateBackchannelAuthentication(bot, {
        scope: 'openid mcp:deploy:staging',
        login_hint: 'someone-else',
        resource: RESOURCE,
      }),
    ).rejects.toMatchObject({ error: 'invalid_request' });
  });
});

describe.each(databaseKinds())('concurrent elevations of one user (%s)', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'dev password',
      roles: ['developer'],
    });
  });
  afterAll(async () => t?.close());

  it('binds each token to the elevation of its own request, so revoking one leaves the others alone', async () => {
    const agent = await registerAgent(t);
    const dev = await userToken(agent, 'dev@example.com', 'dev password');
    const started = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        requestElevation(agent, dev.access_token, 'mcp:deploy:staging', `job ${i}`),
      ),
    );
    const tokens = await Promise.all(
      started.map((s) => pollDecided(agent, s, { resource: RESOURCE })),
    );
    const ids = tokens.map((tk) => String(decodeJwt(tk.access_token).elevation));
    expect(new Set(ids).size).toBe(6);
    // Every elevation was claimed by exactly one token.
    const rows = await t.server.db.db
      .selectFrom('elevation')
      .select(['id', 'expires_at'])
      .where('id', 'in', ids)
      .execute();
    expect(rows.every((r) => r.expires_at !== null)).toBe(true);
  });
});
