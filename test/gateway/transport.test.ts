import { request } from 'node:http';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway/index.ts';
import { connect, sdkProvider, USERS, waitFor, type Connected } from '../example/stack.ts';
import { PRINCIPAL_SECRET, startGatewayStack, type GatewayStack } from './stack.ts';

const ACCEPT = 'application/json, text/event-stream';
const call = (name: string, args: Record<string, unknown> = {}, id = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function post(
  url: string,
  token: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: ACCEPT,
      ...(token && { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A raw node:http POST, for headers fetch will not send (Connection and the ones it names). */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Streamable HTTP through the gateway', { timeout: 90_000 }, () => {
  let stack: GatewayStack;
  let dev: Connected;
  let viewer: Connected;
  let devToken: string;
  let devJsonToken: string;
  const devProvider = sdkProvider(USERS.developer);
  const viewerProvider = sdkProvider(USERS.viewer);

  beforeAll(async () => {
    stack = await startGatewayStack('pglite', { spare: 1 });
    dev = await connect(stack.sse, devProvider);
    devToken = devProvider.saved!.access_token;
    viewer = await connect(stack.sse, viewerProvider);
    const jsonProvider = sdkProvider(USERS.developer);
    const json = await connect(stack.json, jsonProvider);
    devJsonToken = jsonProvider.saved!.access_token;
    await json.client.close();
  }, 400_000);
  afterAll(async () => {
    await dev?.client.close();
    await viewer?.client.close();
    await stack?.close();
  });

  it('delivers progress notifications while the tool is still running', async () => {
    let progress = 0;
    let settled = false;
    const pending = dev.client
      .callTool({ name: 'get_progress', arguments: { steps: 3 } }, undefined, {
        onprogress: () => void (progress += 1),
      })
      .finally(() => void (settled = true));
    expect(await waitFor(async () => progress === 3, 20_000, 50)).toBe(true);
    expect(settled).toBe(false);
    stack.stateful.release();
    expect((await pending).content).toEqual([{ type: 'text', text: 'done' }]);
  });

  it('passes a 20 MB tool result through, as SSE (stateful) and as JSON (stateless)', async () => {
    const bytes = 20 * 1024 * 1024;
    const sse = await dev.client.callTool({ name: 'get_blob', arguments: { bytes } }, undefined, {
      timeout: 60_000,
    });
    expect((sse.content as Array<{ text: string }>)[0]!.text.length).toBe(bytes);
    const res = await post(stack.json, devJsonToken, call('get_blob', { bytes }));
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { result: { content: Array<{ text: string }> } };
    expect(body.result.content[0]!.text.length).toBe(bytes);
  });

  it('keeps the session: GET streams and protocol version reach the upstream, and Last-Event-ID passes', async () => {
    const session = dev.transport.sessionId!;
    expect(
      stack.stateful.seen.some(
        (r) => r.method === 'GET' && r.headers['mcp-session-id'] === session,
      ),
    ).toBe(true);
    const later = stack.stateful.seen.filter(
      (r) => r.method === 'POST' && r.headers['mcp-session-id'] === session,
    );
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((r) => typeof r.headers['mcp-protocol-version'] === 'string')).toBe(true);
    const controller = new AbortController();
    const res = await fetch(stack.sse, {
      headers: {
        authorization: `Bearer ${devToken}`,
        accept: 'text/event-stream',
        'mcp-session-id': session,
        'last-event-id': 'evt-41',
        'mcp-protocol-version': '2025-06-18',
      },
      signal: controller.signal,
    });
    controller.abort();
    expect(res.status).toBeLessThan(500);
    expect(
      stack.stateful.seen.some(
        (r) => r.method === 'GET' && r.headers['last-event-id'] === 'evt-41',
      ),
    ).toBe(true);
  });

  it("refuses someone else's session id with 404, without reaching the upstream", async () => {
    const before = stack.stateful.seen.length;
    const res = await post(stack.sse, viewerProvider.saved!.access_token, call('list_services'), {
      'mcp-session-id': dev.transport.sessionId!,
      'mcp-protocol-version': '2025-06-18',
    });
    expect(res.status).toBe(404);
    expect(stack.stateful.seen.length).toBe(before);
  });

  it('never forwards credentials, hop-by-hop headers or a principal header the caller made up', async () => {
    const before = stack.stateful.seen.length;
    const status = await rawPost(
      stack.json,
      {
        authorization: `Bearer ${devJsonToken}`,
        dpop: 'not-a-proof',
        'content-type': 'application/json',
        accept: ACCEPT,
        connection: 'keep-alive, x-hop',
        'x-hop': 'private',
        'keep-alive': 'timeout=5',
        'x-end-to-end': 'kept',
        'mcp-elevate-principal': 'forged',
      },
      JSON.stringify(call('list_services')),
    );
    expect(status).toBe(200);
    const seen = stack.stateless.seen.at(-1)!.headers;
    expect(seen['x-end-to-end']).toBe('kept');
    for (const name of ['authorization', 'dpop', 'x-hop', 'keep-alive', 'mcp-elevate-principal'])
      expect(seen[name], name).toBeUndefined();
    // On a route that signs principals, the caller's value is replaced by the gateway's JWT.
    const forged = await post(stack.sse, devToken, call('list_services', {}, 7), {
      'mcp-session-id': dev.transport.sessionId!,
      'mcp-protocol-version': '2025-06-18',
      'mcp-elevate-principal': 'forged',
    });
    expect(forged.status).toBe(200);
    await forged.text();
    const principal = stack.stateful.seen.slice(before).at(-1)!.headers['mcp-elevate-principal'];
    await expect(
      jwtVerify(String(principal), new TextEncoder().encode(PRINCIPAL_SECRET)),
    ).resolves.toBeDefined();
  });

  it('refuses Mcp-Method and Mcp-Name headers that contradict the body with 400 (-32020) after authentication, and forwards matching ones', async () => {
    const before = stack.stateless.seen.length;
    const method = await post(stack.json, devJsonToken, call('list_services'), {
      'mcp-method': 'tools/list',
    });
    expect(method.status).toBe(400);
    expect(await method.json()).toMatchObject({ id: 1, error: { code: -32020 } });
    const name = await post(
      stack.json,
      devJsonToken,
      call('deploy_service', { service: 'a', environment: 'staging', version: '1.0.0' }),
      { 'mcp-method': 'tools/call', 'mcp-name': 'list_services' },
    );
    expect(name.status).toBe(400);
    expect(await name.json()).toMatchObject({ error: { code: -32020 } });
    expect(stack.stateless.seen.length).toBe(before);
    // Authentication comes first: a caller without a token learns nothing about the body.
    const anonymous = await post(stack.json, undefined, call('list_services'), {
      'mcp-method': 'tools/list',
    });
    expect(anonymous.status).toBe(401);
    const matching = await post(stack.json, devJsonToken, call('list_services'), {
      'mcp-method': 'tools/call',
      'mcp-name': 'list_services',
    });
    expect(matching.status).toBe(200);
    expect(stack.stateless.seen.at(-1)!.headers).toMatchObject({
      'mcp-method': 'tools/call',
      'mcp-name': 'list_services',
    });
  });

  it('refuses a body over the limit with 413 and a body that is not JSON with 400', async () => {
    const big = await post(
      stack.json,
      devJsonToken,
      JSON.stringify({ ...call('list_services'), pad: 'x'.repeat(1100 * 1024) }),
    );
    expect(big.status).toBe(413);
    const broken = await post(stack.json, devJsonToken, '{"jsonrpc":');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: -32700 } });
  });

  it('refuses hostile tokens: none, forged, for another resource, expired', async () => {
    const none = await post(stack.sse, undefined, call('list_services'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).not.toContain('error=');
    const forged = await post(stack.sse, `${devToken.slice(0, -4)}AAAA`, call('list_services'));
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const otherAudience = await post(stack.sse, devJsonToken, call('list_services'));
    expect(otherAudience.status).toBe(401);
    expect(otherAudience.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // A gateway whose clock is two hours ahead sees the one-hour token as expired.
    const later: Gateway = await startGateway({
      issuer: stack.t.url,
      port: Number(new URL(stack.spare[0]!).port),
      host: '127.0.0.1',
      routes: [
        {
          path: '/sse/mcp',
          resource: stack.sse,
          upstream: stack.stateful.url,
          headers: {},
          timeoutMs: 5_000,
          bodyLimitBytes: 65_536,
          rateLimit: false,
          breaker: {},
          protection: { verifier: { currentDate: () => new Date(Date.now() + 2 * 3600_000) } },
        },
      ],
    });
    try {
      const expired = await post(`${later.url}/sse/mcp`, devToken, call('list_services'));
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    } finally {
      await later.close();
    }
  });

  it('passes DELETE of a session to the upstream', async () => {
    const session = dev.transport.sessionId!;
    await dev.transport.terminateSession();
    expect(
      stack.stateful.seen.some(
        (r) => r.method === 'DELETE' && r.headers['mcp-session-id'] === session,
      ),
    ).toBe(true);
  });
});
