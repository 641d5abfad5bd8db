import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import * as client from 'openid-client';
import { AGENT_REDIRECT, registerAgent, RESOURCE } from '../helpers/agents.ts';
import { completeAuthorization } from '../helpers/flows.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { allowMetadataDocumentClient } from '../../src/oidc/registration-rules.ts';

const LONG = 600_000;

// Service scopes (audit:write) belong to clients an admin registered and allowed them; audit
// ingest takes events only from the registered MCP server of a resource, within a budget.
describe.each(databaseKinds())('service scopes and audit ingest (%s)', (kind) => {
  let t: TestServer;
  const register = (metadata: Record<string, unknown>) =>
    fetch(`${t.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], ...metadata }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
  const ccToken = async (id: string, secret: string, scope = 'audit:write') => {
    const res = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'),
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: `${t.url}/audit`,
        scope,
      }),
    });
    return {
      status: res.status,
      body: (await res.json()) as { access_token?: string; scope?: string; error?: string },
    };
  };
  const event = (time = new Date().toISOString()) => ({
    id: randomUUID(),
    time,
    subject: 'someone',
    tool: 'deploy_service',
    result: 'success',
  });
  const ingest = (token: string, events: unknown[]) =>
    fetch(`${t.url}/audit/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ events }),
    });

  beforeAll(async () => {
    t = await startTestServer(kind, { AUDIT_INGEST_EVENTS_PER_MINUTE: '50' });
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'mcp-server',
      secret: 'mcp-server-secret-value',
      mcpResource: RESOURCE,
    });
  }, LONG);
  afterAll(async () => t?.close());

  it('refuses client_credentials and CIBA at dynamic registration with invalid_client_metadata, public or confidential', async () => {
    for (const metadata of [
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'none',
        response_types: [],
      },
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        response_types: [],
      },
      { grant_types: ['authorization_code', 'client_credentials'] },
      {
        grant_types: ['authorization_code', 'urn:openid:params:grant-type:ciba'],
        backchannel_token_delivery_mode: 'poll',
      },
      { grant_types: ['authorization_code'], mcp_resource: RESOURCE },
    ]) {
      const res = await register(metadata);
      expect(res.status, JSON.stringify(metadata)).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
    }
    expect(
      (await register({ grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' }))
        .status,
    ).toBe(201);
  });

  it('never lets a public client have client_credentials, also through the validation admins use', async () => {
    await expect(
      t.server.provider.Client.validate({
        client_id: 'public-service',
        token_endpoint_auth_method: 'none',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      } as never),
    ).rejects.toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('gives audit:write only to a client an admin allowed it by name: an unrestricted admin client gets a token without it', async () => {
    await registerAgent(t, 'unrestricted');
    const res = await ccToken('unrestricted', 'unrestricted-secret-value');
    expect(res.status).toBe(200);
    expect(String(res.body.scope ?? '')).not.toContain('audit:write');
    expect(String(decodeJwt(res.body.access_token!).scope ?? '')).not.toContain('audit:write');
    expect((await ingest(res.body.access_token!, [event()])).status).toBe(403);
  });

  it('never puts audit:write in a user-delegated token, even one asked for the audit resource', async () => {
    const config = await registerAgent(t, 'delegating');
    await t.server.users.create({
      email: 'user@example.com',
      password: 'user password 1',
      roles: ['admin'],
    });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: AGENT_REDIRECT,
      resource: `${t.url}/audit`,
      scope: 'audit:write',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await completeAuthorization({
      authorizationUrl: url.href,
      redirectUri: AGENT_REDIRECT,
      email: 'user@example.com',
      password: 'user password 1',
    });
    // Either the request is refused outright, or the token it yields lacks the service scope.
    if (!callback.searchParams.get('error')) {
      const tokens = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier },
        { resource: `${t.url}/audit` },
      );
      expect(String(decodeJwt(tokens.access_token).scope ?? '')).not.toContain('audit:write');
      expect((await ingest(tokens.access_token, [event()])).status).toBe(403);
    }
  });

  it('refuses events from a client allowed audit:write but not registered as the MCP server of a resource', async () => {
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'not-a-server',
      secret: 'not-a-server-secret-value',
      scope: 'audit:write',
    });
    const res = await ccToken('not-a-server', 'not-a-server-secret-value');
    expect(decodeJwt(res.body.access_token!).scope).toContain('audit:write');
    const refused = await ingest(res.body.access_token!, [event()]);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('ERR_NOT_MCP_SERVER');
  });

  it("records an MCP server's events for its own resource, refuses events dated 2020 or in the future, and rate-limits it with 429 and Retry-After", async () => {
    const { body } = await ccToken('mcp-server', 'mcp-server-secret-value');
    const first = event();
    const ok = await ingest(body.access_token!, [first]);
    expect(ok.status).toBe(200);
    await t.server.audit.flush();
    const row = await t.server.db.db
      .selectFrom('audit_event')
      .select(['resource', 'data'])
      .where('id', '=', first.id)
      .executeTakeFirstOrThrow();
    expect(row.resource).toBe(RESOURCE);
    expect(row.data).toMatchObject({ reporter: 'mcp-server' });

    for (const time of ['2020-01-01T00:00:00Z', new Date(Date.now() + 3_600_000).toISOString()]) {
      const res = await ingest(body.access_token!, [event(), event(time)]);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('events[1].time');
    }
    // 1 event spent above; the budget is 50 a minute.
    expect(
      (
        await ingest(
          body.access_token!,
          Array.from({ length: 45 }, () => event()),
        )
      ).status,
    ).toBe(200);
    const limited = await ingest(
      body.access_token!,
      Array.from({ length: 10 }, () => event()),
    );
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('Client ID Metadata Document clients', () => {
  const cimd = (grantTypes: string[], metadata: Record<string, unknown> = {}) => ({
    grantTypes,
    metadata: () => metadata,
  });

  it('are user-delegated only: client_credentials, CIBA or mcp_resource refuse the client with invalid_client_metadata', () => {
    for (const c of [
      cimd(['client_credentials']),
      cimd(['authorization_code', 'urn:openid:params:grant-type:ciba']),
      cimd(['authorization_code'], { mcp_resource: RESOURCE }),
    ]) {
      expect(() => allowMetadataDocumentClient(undefined, c)).toThrow(
        expect.objectContaining({ error: 'invalid_client_metadata' }),
      );
    }
    expect(
      allowMetadataDocumentClient(undefined, cimd(['authorization_code', 'refresh_token'])),
    ).toBe(true);
  });
});
