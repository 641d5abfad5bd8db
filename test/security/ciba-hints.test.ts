import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { importJWK, SignJWT } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { registerAgent, RESOURCE, userToken } from '../helpers/agents.ts';
import { loadSigningKeys } from '../../src/keys/keystore.ts';

const LONG = 600_000;

// CIBA names the user only by the agent's current access token of a live grant (ARCHITECTURE.md §6);
// every other way of naming a user is refused before any ticket or elevation exists.
describe.each(databaseKinds())('CIBA hints (%s)', (kind) => {
  let t: TestServer;
  let agent: client.Configuration;
  let other: client.Configuration;
  let devId: string;
  const basic = (id: string) =>
    'Basic ' + Buffer.from(`${id}:${id}-secret-value`).toString('base64');
  const backchannel = async (params: Record<string, string | string[]>, id = 'agent') => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries({
      scope: 'openid mcp:deploy:staging',
      resource: RESOURCE,
      binding_message: 'hotfix',
      ...params,
    })) {
      for (const value of [v].flat()) body.append(k, value);
    }
    const res = await fetch(`${t.url}/backchannel`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id) },
      body,
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        error?: string;
        error_description?: string;
        auth_req_id?: string;
      },
    };
  };
  const elevationsOfDev = async () =>
    (await t.server.elevation.listElevations({ subject: devId })).length;

  beforeAll(async () => {
    t = await startTestServer(kind, { CIBA_POLL_INTERVAL: '1' });
    devId = (
      await t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      })
    ).id;
    agent = await registerAgent(t);
    other = await registerAgent(t, 'other-agent');
  }, LONG);
  afterAll(async () => t?.close());

  it(
    'elevates with a current access token of a live grant of this client (the rule the others are measured against)',
    async () => {
      const dev = await userToken(agent, 'dev@example.com', 'dev password');
      const res = await backchannel({ login_hint_token: dev.access_token });
      expect(res.status).toBe(200);
      expect(res.body.auth_req_id).toEqual(expect.any(String));
    },
    LONG,
  );

  it(
    "refuses id_token_hint, live or expired, with invalid_request and opens nothing in the user's name",
    async () => {
      const before = await elevationsOfDev();
      const dev = await userToken(agent, 'dev@example.com', 'dev password');
      expect(dev.id_token).toEqual(expect.any(String));
      const [jwk] = await loadSigningKeys(t.server.db.db);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ sub: devId })
        .setProtectedHeader({ alg: 'ES256', kid: jwk!.kid })
        .setIssuer(t.url)
        .setAudience('agent')
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(await importJWK(jwk!, 'ES256'));
      for (const hint of [dev.id_token!, expired]) {
        const res = await backchannel({ id_token_hint: hint });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(res.body.error_description).toContain('id_token_hint');
      }
      expect(await elevationsOfDev()).toBe(before);
      expect(
        await t.server.db.db
          .selectFrom('elevation_ticket')
          .select('id')
          .where('requester_id', '=', devId)
          .where('channel', '=', 'ciba')
          .execute(),
      ).toHaveLength(0);
    },
    LONG,
  );

  it(
    'refuses the access token of a grant the user revoked (refresh token revocation), at once',
    async () => {
      const dev = await userToken(agent, 'dev@example.com', 'dev password');
      const revoked = await fetch(`${t.url}/token/revocation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('agent'),
        },
        body: new URLSearchParams({ token: dev.refresh_token!, token_type_hint: 'refresh_token' }),
      });
      expect(revoked.status).toBe(200);
      const res = await backchannel({ login_hint_token: dev.access_token });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('revoked'),
      });
    },
    LONG,
  );

  it(
    "refuses another client's access token as login_hint_token",
    async () => {
      const theirs = await userToken(other, 'dev@example.com', 'dev password');
      const res = await backchannel({ login_hint_token: theirs.access_token });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('another client'),
      });
      // The same token is still good for the client it was issued to.
      expect(
        (await backchannel({ login_hint_token: theirs.access_token }, 'other-agent')).status,
      ).toBe(200);
    },
    LONG,
  );

  it(
    'refuses two resource values with invalid_target',
    async () => {
      const dev = await userToken(agent, 'dev@example.com', 'dev password');
      const res = await backchannel({
        login_hint_token: dev.access_token,
        resource: [RESOURCE, `${t.url}/admin`],
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_target');
    },
    LONG,
  );
});
