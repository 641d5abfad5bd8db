import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway/index.ts';
import { freePort } from '../helpers/server.ts';
import { connect, sdkProvider, USERS, type Connected } from '../example/stack.ts';
import { startGatewayStack, type GatewayStack } from './stack.ts';

const call = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 5,
  method: 'tools/call',
  params: { name, arguments: args },
});
const post = (url: string, token: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
  });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe(
  'the gateway when calls are too many or the upstream is slow or down',
  { timeout: 90_000 },
  () => {
    let stack: GatewayStack;
    let down: Gateway;
    const devProvider = sdkProvider(USERS.developer);
    const sessions: Connected[] = [];

    beforeAll(async () => {
      stack = await startGatewayStack('pglite', {
        spare: 1,
        route: {
          timeoutMs: 1_500,
          rateLimit: { points: 3, durationSec: 300 },
          breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
        },
      });
      sessions.push(await connect(stack.sse, devProvider));
      sessions.push(await connect(stack.sse, devProvider));
      const spare = new URL(stack.spare[0]!);
      down = await startGateway({
        issuer: stack.t.url,
        port: Number(spare.port),
        host: '127.0.0.1',
        routes: [
          {
            path: '/mcp',
            resource: spare.href,
            upstream: `http://127.0.0.1:${await freePort()}/mcp`,
            headers: {},
            timeoutMs: 1_500,
            bodyLimitBytes: 65_536,
            rateLimit: false,
            breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
          },
        ],
      });
    }, 400_000);
    afterAll(async () => {
      for (const session of sessions) await session.client.close();
      await down?.close();
      await stack?.close();
    });

    it('limits calls per principal and tool across sessions with -32003 and retryAfterMs', async () => {
      const [a, b] = sessions as [Connected, Connected];
      await a.client.callTool({ name: 'list_services', arguments: {} });
      await b.client.callTool({ name: 'list_services', arguments: {} });
      await a.client.callTool({ name: 'list_services', arguments: {} });
      const limited = await failure(b.client.callTool({ name: 'list_services', arguments: {} }));
      expect(limited).toMatchObject({
        code: -32003,
        data: { retryable: true, retryAfterMs: expect.any(Number) },
      });
      // Another tool, and another principal on the same tool, have buckets of their own.
      expect(
        (await a.client.callTool({ name: 'get_blob', arguments: { bytes: 3 } })).isError,
      ).toBeFalsy();
      const viewer = await connect(stack.sse, sdkProvider(USERS.viewer));
      try {
        expect(
          (await viewer.client.callTool({ name: 'list_services', arguments: {} })).isError,
        ).toBeFalsy();
      } finally {
        await viewer.client.close();
      }
    });

    it('does not open the breaker when clients hang up during calls', async () => {
      const provider = sdkProvider(USERS.developer);
      (await connect(stack.json, provider)).client.close();
      const token = provider.saved!.access_token;
      for (let i = 0; i < 3; i++) {
        const controller = new AbortController();
        const pending = fetch(stack.json, {
          method: 'POST',
          signal: controller.signal,
          body: JSON.stringify(call('get_slow', { ms: 1_000 })),
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${token}`,
          },
        }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
        controller.abort();
        await pending;
      }
      const answer = await (await post(stack.json, token, call('list_services'))).json();
      expect(answer).toMatchObject({ result: { content: [{ text: 'billing, search' }] } });
    });

    it('answers a tool call that outlives its timeout with -32001', async () => {
      const error = await failure(
        sessions[0]!.client.callTool({ name: 'get_slow', arguments: { ms: 5_000 } }),
      );
      expect(error).toMatchObject({ code: -32001, data: { retryable: expect.any(Boolean) } });
    });

    it('answers calls to an upstream that is down with -32004, then opens the breaker, never naming the upstream', async () => {
      const provider = sdkProvider(USERS.developer);
      // The first connection signs in; initialize itself then fails on the dead upstream.
      const refused = await failure(connect(`${down.url}/mcp`, provider));
      expect(refused).toMatchObject({ code: -32004 });
      const token = provider.saved!.access_token;
      const upstreamPort = new URL(down.routes[0]!.upstream).port;
      const first = await post(`${down.url}/mcp`, token, call('list_services'));
      expect(first.status).toBe(200);
      const body = await first.text();
      expect(JSON.parse(body)).toMatchObject({
        id: 5,
        error: { code: -32004, data: { retryable: true } },
      });
      expect(body).not.toContain(upstreamPort);
      expect(body).not.toMatch(/ECONNREFUSED|at .*\.ts:\d+/);
      const open = (await (await post(`${down.url}/mcp`, token, call('list_services'))).json()) as {
        error: { data: { retryAfterMs: number } };
      };
      expect(open).toMatchObject({
        error: { code: -32004, data: { retryable: true, retryAfterMs: expect.any(Number) } },
      });
      expect(open.error.data.retryAfterMs).toBeGreaterThan(1_000);
      const metrics = await (await fetch(`${down.url}/metrics`)).text();
      expect(metrics).toMatch(
        /mcp_tool_requests_total\{tool="list_services",status="unavailable",user_role="developer"\} 2/,
      );
    });

    it('keeps metric series bounded whatever tool names clients send', async () => {
      const provider = sdkProvider(USERS.developer);
      await failure(connect(`${down.url}/mcp`, provider));
      const token = provider.saved!.access_token;
      const names = [
        ...Array.from({ length: 250 }, (_, i) => `probe_${i}`),
        'bad name/../x',
        'x'.repeat(129),
        'ünïcode',
      ];
      for (const name of names) {
        const res = await post(`${down.url}/mcp`, token, call(name));
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }
      const metrics = await (await fetch(`${down.url}/metrics`)).text();
      const labels = new Set(
        [...metrics.matchAll(/^mcp_tool_requests_total\{tool="([^"]*)"/gm)].map((m) => m[1]!),
      );
      // 200 distinct names at most (list_services from the test above, then the first probes),
      // plus the two shared labels.
      expect(labels.size).toBeLessThanOrEqual(202);
      expect(labels).toContain('_other');
      expect(labels).toContain('_invalid');
      expect(labels).toContain('probe_0');
      expect(labels).not.toContain('probe_249');
      for (const name of names.slice(250)) expect(labels).not.toContain(name);
    });
  },
);
