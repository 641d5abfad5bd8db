import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import { problem, startAdminFixture, type AdminFixture } from './fixture.ts';

describe.each(databaseKinds())('admin API: bad input (%s)', (kind) => {
  let f: AdminFixture;
  let token: string;

  beforeAll(async () => {
    f = await startAdminFixture(kind);
    token = await f.token();
  });
  afterAll(async () => f?.close());

  it('answers a body with an unknown field with 400 naming the field', async () => {
    const res = await f.api('POST', '/roles', { token, json: { name: 'tester', colour: 'red' } });
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.code).toBe('ERR_VALIDATION');
    expect(body.errors).toEqual([{ path: 'colour', message: 'unknown field' }]);
    expect(body.detail).toContain('colour');
  });

  it('answers a wrong type deep in a body with 400 naming its path', async () => {
    const res = await f.api('POST', '/roles', {
      token,
      json: {
        name: 'tester',
        inherits: [42],
        permissions: [{ resource: 'tool:x', conditions: { maxCost: 'lots' } }],
      },
    });
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.errors!.map((e) => e.path)).toEqual([
      'inherits[0]',
      'permissions[0].conditions.maxCost',
    ]);
    expect(body.detail).toMatch(/inherits\[0\]: .*permissions\[0\]\.conditions\.maxCost: /);
    expect((await f.api('GET', '/roles/tester', { token })).status).toBe(404);
  });

  it('answers malformed JSON, a JSON scalar and a missing body with 400', async () => {
    for (const body of ['{"name": "tester",', '"tester"']) {
      const res = await f.api('POST', '/roles', {
        token,
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect((await problem(res)).code).toBe('ERR_MALFORMED_JSON');
    }
    const res = await f.api('POST', '/roles', { token });
    expect(res.status).toBe(400);
    expect((await problem(res)).detail).toBe('a JSON request body is required');
  });

  it('answers a body over 64 KiB with 413, with or without a Content-Length', async () => {
    const huge = JSON.stringify({ name: 'tester', description: 'x'.repeat(70 * 1024) });
    const declared = await f.api('POST', '/roles', {
      token,
      body: huge,
      headers: { 'content-type': 'application/json' },
    });
    expect(declared.status).toBe(413);
    expect((await problem(declared)).code).toBe('ERR_BODY_TOO_LARGE');

    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        const bytes = new TextEncoder().encode(huge);
        for (let i = 0; i < bytes.length; i += 8192) c.enqueue(bytes.slice(i, i + 8192));
        c.close();
      },
    });
    const streamed = await fetch(`${f.base}/roles`, {
      method: 'POST',
      body: chunks,
      duplex: 'half',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    } as RequestInit);
    expect(streamed.status).toBe(413);
    await problem(streamed);
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await f.api('POST', '/roles', {
      token,
      body: 'name=tester',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect((await problem(res)).code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers bad path and query parameters with 400 naming them', async () => {
    const path = await problem(await f.api('GET', '/roles/Not%20A%20Role', { token }));
    expect(path.errors![0]!.path).toBe('name');
    const query = await problem(await f.api('GET', '/users?limit=0&page=2', { token }));
    expect(query.errors!.map((e) => e.path).sort()).toEqual(['limit', 'page']);
    const cursor = await problem(await f.api('GET', '/users?cursor=bm9wZQ', { token }));
    expect(cursor.errors).toEqual([
      { path: 'cursor', message: 'not a cursor returned by this API' },
    ]);
  });

  it('checks the body only after the token: a bad body without a token is a 401, not a 400', async () => {
    const res = await f.api('POST', '/roles', { json: { colour: 'red' } });
    expect(res.status).toBe(401);
  });

  it('answers an unknown path under /admin/v1 with a 404 problem, with or without a token', async () => {
    for (const path of ['/nope', '/roles/admin/extra', '/', '']) {
      for (const opts of [{ token }, {}]) {
        const res = await f.api('GET', path, opts);
        expect(res.status, path).toBe(404);
        expect((await problem(res)).code).toBe('ERR_NOT_FOUND');
      }
    }
    const post = await f.api('POST', '/nope', { token, json: {} });
    expect(post.status).toBe(404);
    await problem(post);
  });

  it('answers a known path with the wrong method with a 405 problem and an Allow header', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/audit', 'HEAD, GET, OPTIONS'],
      ['GET', '/elevations/x/revoke', 'POST, OPTIONS'],
      ['PATCH', '/roles', 'HEAD, GET, POST, OPTIONS'],
    ] as const) {
      const res = await f.api(method, path, { token });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await problem(res)).toMatchObject({
        code: 'ERR_METHOD_NOT_ALLOWED',
        detail: `method ${method} is not allowed here`,
      });
    }
  });

  it('answers OPTIONS on a known path with its methods', async () => {
    const res = await f.api('OPTIONS', '/users/someone');
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('HEAD, GET, PATCH, DELETE, OPTIONS');
  });
});
