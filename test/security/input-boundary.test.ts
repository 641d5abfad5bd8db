import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.ts';
import { CIBA, RESOURCE, registerAgent, userToken } from '../helpers/agents.ts';
import { startAdminFixture, type AdminFixture } from '../admin/fixture.ts';
import { encodeCursor } from '../../src/admin/pagination.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const AGENT = { authorization: basic('agent', 'agent-secret-value') };
// The two characters PostgreSQL text cannot hold, as each channel carries them.
const HOSTILE = { nul: '\u0000', surrogate: '\ud83d' } as const;

/** A stream body: sent with `Transfer-Encoding: chunked`, in two parts. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const half = Math.floor(bytes.length / 2);
  return new ReadableStream({
    start(c) {
      c.enqueue(bytes.slice(0, half));
      setTimeout(() => {
        c.enqueue(bytes.slice(half));
        c.close();
      }, 20);
    },
  });
}

// A shared machine can be slow to start a server: the hooks and tests get room.
describe.each(databaseKinds())(
  'the input boundary in front of every route (%s)',
  { timeout: 120_000 },
  (kind) => {
    let f: AdminFixture;
    let url: string;
    let adminToken: string;
    let userAccess: string;

    beforeAll(async () => {
      f = await startAdminFixture(kind);
      url = f.t.url;
      adminToken = await f.token();
      const agent = await registerAgent(f.t);
      await f.t.server.users.create({
        email: 'dev@example.com',
        password: 'dev password',
        roles: ['developer'],
      });
      userAccess = (await userToken(agent, 'dev@example.com', 'dev password')).access_token;
    }, 600_000);
    afterAll(async () => f?.close());

    const post = (
      path: string,
      body: RequestInit['body'],
      headers: Record<string, string> = FORM,
    ) => fetch(`${url}${path}`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);

    async function oauthRefusal(res: Response): Promise<string> {
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_request');
      return body.error_description;
    }

    async function problemRefusal(res: Response): Promise<string> {
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as { status: number; code: string; detail: string };
      expect(body).toMatchObject({ status: 400, code: 'invalid_request' });
      return body.detail;
    }

    it.each(['client_id', 'code', 'refresh_token', 'auth_req_id'])(
      'a NUL in %s at /token is a 400 invalid_request',
      async (name) => {
        const grant =
          { code: 'authorization_code', refresh_token: 'refresh_token', auth_req_id: CIBA }[name] ??
          'client_credentials';
        const body = new URLSearchParams({
          grant_type: grant,
          client_id: 'agent',
          [name]: `x${HOSTILE.nul}y`,
        });
        expect(await oauthRefusal(await post('/token', body))).toMatch(
          `form field ${name} holds a NUL`,
        );
      },
    );

    it('a NUL in the client id of a Basic Authorization header is a 400 at /token and /token/revocation', async () => {
      for (const path of ['/token', '/token/revocation']) {
        for (const id of ['a\u0000b', 'a%00b']) {
          const res = await post(path, 'grant_type=client_credentials&token=x', {
            ...FORM,
            authorization: basic(id, 's'),
          });
          expect(await oauthRefusal(res)).toMatch('Authorization header');
        }
      }
    });

    it('a NUL in the query of /auth is a 400 invalid_request, also with a percent-garbage neighbour', async () => {
      expect(
        await oauthRefusal(await fetch(`${url}/auth?client_id=a%00b&response_type=code`)),
      ).toMatch('query parameter client_id');
      expect(await oauthRefusal(await fetch(`${url}/auth?x=%E0%A4%A&client_id=%00`))).toMatch(
        'NUL',
      );
    });

    it('a NUL in a token at /token/revocation is a 400; a well-formed unknown token is still a 200', async () => {
      expect(
        await oauthRefusal(
          await post('/token/revocation', `token=%00&client_id=agent`, { ...FORM, ...AGENT }),
        ),
      ).toMatch('token');
      expect((await post('/token/revocation', 'token=unknown', { ...FORM, ...AGENT })).status).toBe(
        200,
      );
    });

    it.each(Object.entries(HOSTILE))(
      'DCR refuses a client_name with %s in its JSON body with 400',
      async (_name, bad) => {
        const res = await post(
          '/reg',
          JSON.stringify({ client_name: `agent ${bad}`, redirect_uris: ['http://127.0.0.1:9/cb'] }),
          JSON_TYPE,
        );
        expect(await oauthRefusal(res)).toMatch('JSON body');
        // The same request with printable text registers.
        const ok = await post(
          '/reg',
          JSON.stringify({ client_name: 'agent 🚀', redirect_uris: ['http://127.0.0.1:9/cb'] }),
          JSON_TYPE,
        );
        expect(ok.status).toBe(201);
      },
    );

    it('a NUL in the path of an elevation route is a 400, not a database error', async () => {
      const res = await fetch(`${url}/elevation/v1/elevations/%00`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${userAccess}` },
      });
      expect(await oauthRefusal(res)).toMatch('request path');
    });

    it.each(Object.entries(HOSTILE))(
      'audit ingest answers a batch with %s as problem+json 400',
      async (_name, bad) => {
        const res = await post(
          '/audit/v1/events',
          JSON.stringify({ events: [{ id: 'e1', tool: `t${bad}` }] }),
          JSON_TYPE,
        );
        expect(await problemRefusal(res)).toMatch('JSON body');
      },
    );

    it('CIBA refuses authorization_details whose JSON carries an escaped NUL or lone surrogate', async () => {
      for (const bad of ['\\u0000', '\\ud800']) {
        const details = `[{"type":"mcp_tool_call","tool":"deploy${bad}","arguments_sha256":"x"}]`;
        const body = new URLSearchParams({
          scope: 'openid mcp:deploy:staging',
          login_hint_token: userAccess,
          binding_message: 'deploy',
          resource: RESOURCE,
          authorization_details: details,
        });
        expect(await oauthRefusal(await post('/backchannel', body, { ...FORM, ...AGENT }))).toMatch(
          'authorization_details',
        );
      }
    });

    it('admin filters and ids with NUL are problem+json 400 before any authentication', async () => {
      expect(
        await problemRefusal(await f.api('GET', '/audit?actor=%00', { token: adminToken })),
      ).toMatch('actor');
      expect(await problemRefusal(await f.api('GET', '/users/%00'))).toMatch('path');
      expect(
        await problemRefusal(
          await f.api('POST', '/roles', {
            token: adminToken,
            json: { name: 'x', description: HOSTILE.surrogate },
          }),
        ),
      ).toMatch('surrogate');
    });

    it('an audit cursor past the bigint range is a 400 naming the cursor, in both orders', async () => {
      for (const key of ['d:9999999999999999999', 'a:9223372036854775808']) {
        const order = key.startsWith('a') ? '&order=asc' : '';
        const res = await f.api('GET', `/audit?cursor=${encodeCursor(key)}${order}`, {
          token: adminToken,
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { detail: string }).detail).toMatch('cursor');
      }
      const last = await f.api('GET', `/audit?cursor=${encodeCursor('d:9223372036854775807')}`, {
        token: adminToken,
      });
      expect(last.status).toBe(200);
    });

    it('a chunked body is inspected and still reaches the route unchanged', async () => {
      expect(
        await oauthRefusal(
          await post('/token', chunked('grant_type=client_credentials&scope=%00'), {
            ...FORM,
            ...AGENT,
          }),
        ),
      ).toMatch('scope');
      // Read by the boundary, put back, then parsed by oidc-provider: the grant is issued.
      const ok = await post(
        '/token',
        chunked(`grant_type=client_credentials&resource=${encodeURIComponent(RESOURCE)}`),
        { ...FORM, ...AGENT },
      );
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ token_type: 'Bearer' });
      // And by @koa/bodyparser behind an admin route.
      const role = await post(
        '/admin/v1/roles',
        chunked(JSON.stringify({ name: 'chunked-role' })),
        { ...JSON_TYPE, authorization: `Bearer ${adminToken}` },
      );
      expect(role.status).toBe(201);
    });

    it('a gzip-encoded body is inspected as it will be inflated', async () => {
      const res = await post(
        '/audit/v1/events',
        gzipSync(JSON.stringify({ events: [{ id: 'e\u0000' }] })),
        { ...JSON_TYPE, 'content-encoding': 'gzip' },
      );
      expect(await problemRefusal(res)).toMatch('NUL');
    });

    it('a body larger than 4 MiB is refused with 413 before it is read', async () => {
      const res = await post('/token', `a=${'x'.repeat(4 * 1024 * 1024)}`, { ...FORM, ...AGENT });
      expect(res.status).toBe(413);
    });

    it('an empty chunked body and a body-less POST still reach their routes', async () => {
      const empty = await post('/token', chunked(''), { ...FORM, ...AGENT });
      expect(empty.status).toBe(400);
      expect(await empty.json()).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('grant_type'),
      });
      const bare = await fetch(`${url}/token`, { method: 'POST', headers: AGENT });
      expect(bare.status).toBe(400);
    });

    it('text with emoji, bidi marks and percent signs passes the boundary untouched', async () => {
      const config = await client.discovery(
        new URL(url),
        'agent',
        undefined,
        client.ClientSecretBasic('agent-secret-value'),
        { execute: [client.allowInsecureRequests] },
      );
      const tokens = await client.clientCredentialsGrant(config, {
        resource: RESOURCE,
        scope: 'mcp:tools:read',
      });
      expect(tokens.access_token).toEqual(expect.any(String));
      const res = await post(
        '/admin/v1/roles',
        JSON.stringify({ name: 'emoji-role', description: '🚀 \u202e 100% sure' }),
        { ...JSON_TYPE, authorization: `Bearer ${adminToken}` },
      );
      expect(res.status).toBe(201);
    });
  },
);
