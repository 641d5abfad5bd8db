import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.ts';
import { registerAgent, RESOURCE, requestElevation, userToken } from '../helpers/agents.ts';
import { pollDecided } from '../helpers/ciba.ts';
import { problem, startAdminFixture, type AdminFixture } from '../admin/fixture.ts';

const LONG = 600_000;

// Each consumer of the server's own tokens is tried with a token that worked a moment ago and
// whose elevation, grant or client has since been revoked: it must be refused at once.
describe.each(databaseKinds())(
  "one verifier of the server's own tokens, revocation at once (%s)",
  (kind) => {
    let f: AdminFixture;
    let agent: client.Configuration;
    const basic = 'Basic ' + Buffer.from('agent:agent-secret-value').toString('base64');

    beforeAll(async () => {
      f = await startAdminFixture(kind);
      await f.t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password 1',
        roles: ['developer'],
      });
      agent = await registerAgent(f.t);
    }, LONG);
    afterAll(async () => f?.close());

    it(
      "refuses a revoked elevation's mcp:admin token at the admin API, for reads and for creating an admin",
      async () => {
        const token = await f.token();
        expect((await f.api('GET', '/users', { token })).status).toBe(200);
        const elevation = String(decodeJwt(token).elevation);
        const revoked = await f.api('POST', `/elevations/${elevation}/revoke`, { token });
        expect(revoked.status).toBe(200);
        expect(((await revoked.json()) as { state: string }).state).toBe('revoked');

        const list = await f.api('GET', '/users', { token });
        expect(list.status).toBe(401);
        expect(list.headers.get('www-authenticate')).toContain('error="invalid_token"');
        expect((await problem(list)).detail).toBe('the elevation of this token has been revoked');
        const create = await f.api('POST', '/users', {
          token,
          json: {
            email: 'intruder@example.com',
            password: 'intruder pass 1',
            roles: ['admin'],
            groups: ['security-team'],
          },
        });
        expect(create.status).toBe(401);
        expect(await f.t.server.users.findCredentials('intruder@example.com')).toBeUndefined();
      },
      LONG,
    );

    it(
      'refuses an elevated token at DELETE /elevation/v1/elevations/:id once its elevation is dropped, and a base token once its grant is revoked',
      async () => {
        const dev = await userToken(agent, 'dev@example.com', 'dev password 1');
        const started = await requestElevation(agent, dev.access_token, 'mcp:deploy:staging');
        const elevated = await pollDecided(agent, started, {
          resource: RESOURCE,
        });
        const id = String(decodeJwt(elevated.access_token).elevation);
        const drop = (token: string) =>
          fetch(`${f.t.url}/elevation/v1/elevations/${id}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
          });

        expect((await drop(elevated.access_token)).status).toBe(204);
        const again = await drop(elevated.access_token);
        expect(again.status).toBe(401);
        expect(again.headers.get('www-authenticate')).toContain('error="invalid_token"');

        // The base token of the same user still works (dropping twice is idempotent) until its grant is revoked.
        expect((await drop(dev.access_token)).status).toBe(204);
        const revocation = await fetch(`${f.t.url}/token/revocation`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: new URLSearchParams({
            token: dev.refresh_token!,
            token_type_hint: 'refresh_token',
          }),
        });
        expect(revocation.status).toBe(200);
        const afterRevocation = await drop(dev.access_token);
        expect(afterRevocation.status).toBe(401);
        expect((await afterRevocation.json()) as { detail: string }).toMatchObject({
          detail: 'the grant of this token has been revoked',
        });
      },
      LONG,
    );

    it(
      "refuses an MCP server's audit token at ingest once the client is deleted (registered as the MCP server through the admin API)",
      async () => {
        const admin = await f.token();
        const unknown = await f.api('POST', '/clients', {
          token: admin,
          json: { id: 'mcp-unknown', mcpResource: 'https://nowhere.example/mcp' },
        });
        expect(unknown.status).toBe(400);
        const created = await f.api('POST', '/clients', {
          token: admin,
          json: { id: 'mcp-gone', mcpResource: RESOURCE },
        });
        expect(created.status).toBe(201);
        const { clientSecret, mcpResource } = (await created.json()) as {
          clientSecret: string;
          mcpResource: string;
        };
        expect(mcpResource).toBe(RESOURCE);
        const res = await fetch(`${f.t.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: 'Basic ' + Buffer.from(`mcp-gone:${clientSecret}`).toString('base64'),
          },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            resource: `${f.t.url}/audit`,
            scope: 'audit:write',
          }),
        });
        const { access_token: token } = (await res.json()) as { access_token: string };
        const post = () =>
          fetch(`${f.t.url}/audit/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({
              events: [
                {
                  id: crypto.randomUUID(),
                  time: new Date().toISOString(),
                  tool: 'list_services',
                  result: 'success',
                },
              ],
            }),
          });
        expect((await post()).status).toBe(200);
        expect((await f.api('DELETE', '/clients/mcp-gone', { token: admin })).status).toBe(204);
        const refused = await post();
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
      },
      LONG,
    );
  },
);
