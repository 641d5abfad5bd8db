import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient } from '../../src/oidc/clients.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Error codes whose HTTP answer speaks a protocol's own word rather than the code itself
// (src/http/problem.ts): the problem document keeps the word clients already read.
describe('the HTTP edge answers typed errors in the words clients read', () => {
  let t: TestServer;
  let token: string;
  const ingest = (body: string, type: string, auth?: string) =>
    fetch(`${t.url}/audit/v1/events`, {
      method: 'POST',
      headers: { 'content-type': type, ...(auth && { authorization: auth }) },
      body,
    });

  beforeAll(async () => {
    t = await startTestServer('pglite');
    await registerClient(t.server.provider, t.server.db.db, {
      id: 'mcp-server',
      secret: 'mcp-server-secret',
      scope: 'audit:write',
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

  it('a request without a token is a 401 `unauthorized` problem with a bare Bearer challenge', async () => {
    const res = await ingest('{"events":[]}', 'application/json');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: expect.any(String),
      code: 'unauthorized',
    });
  });

  it('a token that is not one is a 401 `invalid_token` problem whose challenge says so', async () => {
    const res = await ingest('{"events":[]}', 'application/json', 'Bearer not-a-token');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="[^"]+"$/,
    );
    expect(((await res.json()) as { code: string }).code).toBe('invalid_token');
  });

  it('a batch that is not JSON is a 415 `unsupported_media_type` problem', async () => {
    const res = await ingest('events', 'text/plain', `Bearer ${token}`);
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'send application/json',
      code: 'unsupported_media_type',
    });
  });

  it('a malformed batch is a 400 `invalid_request` problem with the fixed wording', async () => {
    const res = await ingest('{"events": [', 'application/json', `Bearer ${token}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'the body is not valid JSON',
      code: 'invalid_request',
    });
  });
});
