import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { registerClient } from '../../src/oidc/clients.ts';
import { startGateway, type Gateway } from '../../src/gateway/index.ts';
import { startGatewayStack, type GatewayStack } from './stack.ts';

/** What the upstream received: every request that reached it. */
interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const TOOLS = ['list_services', 'deploy_service', 'secret_admin_tool'].map((name) => ({
  name,
  inputSchema: { type: 'object' },
}));

/**
 * An MCP server that answers as the `x-mode` request header says (the gateway forwards it):
 * a well-behaved JSON server by default; tool lists in every shape a client still reads; 5xx
 * answers; its own challenge; and, on GET, a resumed stream replaying an earlier tool list.
 */
async function startHostileUpstream(): Promise<{
  url: string;
  seen: Received[];
  close(): Promise<void>;
}> {
  const seen: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    seen.push({ method: req.method ?? '', headers: req.headers, body });
    const mode = String(req.headers['x-mode'] ?? 'default');
    if (mode === 'redirect') {
      // Where Python servers send `/mcp` (to `/mcp/`): a URL built from the Host they were sent.
      // uvicorn's way: the scheme from X-Forwarded-Proto, the host from Host.
      const scheme = String(req.headers['x-forwarded-proto'] ?? 'http');
      const location = String(req.headers['x-location'])
        .replace('UPSTREAM', `${scheme}://${req.headers.host}`)
        // The way of servers that trust X-Forwarded-Host too (Express with `trust proxy`).
        .replace('FORWARDED', `${scheme}://${String(req.headers['x-forwarded-host'])}`);
      res.writeHead(307, { location, 'content-location': location });
      return void res.end();
    }
    if (mode === 'leaky') {
      // Headers that name the upstream or its own site, on an answer the gateway relays.
      res.writeHead(200, {
        'content-type': 'application/json',
        link: `<http://${req.headers.host}/mcp/>; rel="alternate"`,
        refresh: `0; url=http://${req.headers.host}/`,
        'set-cookie': `s=1; Domain=${String(req.headers.host).split(':')[0]}`,
        'access-control-allow-origin': `http://${req.headers.host}`,
        server: 'uvicorn',
        via: `1.1 ${req.headers.host}`,
        'x-served-by': String(req.headers.host),
        'mcp-session-id': 'kept',
      });
      return void res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
    }
    if (req.method === 'GET') {
      if (mode !== 'replay') return void res.writeHead(405).end();
      const replayed = { jsonrpc: '2.0', id: 2, result: { tools: TOOLS } };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return void res.end(`id: 1\nevent: message\ndata: ${JSON.stringify(replayed)}\n\n`);
    }
    if (mode.startsWith('status-')) {
      // A 5xx whose body is empty (already complete when the gateway gives up on it), or still
      // streaming.
      res.writeHead(Number(mode.slice(7)), { 'content-type': 'text/plain' });
      if (mode === 'status-500') return void res.end();
      res.write('x'.repeat(64 * 1024));
      setTimeout(() => res.end('upstream trouble at 10.0.0.7'), 50);
      return;
    }
    if (mode === 'challenge') {
      res.writeHead(401, {
        'www-authenticate': 'Bearer resource_metadata="http://evil.example/x"',
      });
      return void res.end();
    }
    const message = JSON.parse(body) as { id?: number; method: string };
    if (message.id === undefined) return void res.writeHead(202).end();
    const result =
      message.method === 'initialize'
        ? {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'hostile', version: '1' },
          }
        : message.method === 'tools/list'
          ? { tools: TOOLS }
          : message.method === 'tools/call'
            ? { content: [{ type: 'text', text: 'ran' }] }
            : {};
    const answer = { jsonrpc: '2.0', id: message.id, result };
    const json = JSON.stringify(answer);
    if (message.method !== 'tools/list' || mode === 'default') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(json);
    }
    const sse = (data: string) => `event: message\ndata: ${data}\n\n`;
    const shapes: Record<string, [number, string, string]> = {
      bom: [200, 'application/json', `\uFEFF${json}`],
      batch: [200, 'application/json', JSON.stringify([answer])],
      'string-id': [200, 'application/json', JSON.stringify({ ...answer, id: String(answer.id) })],
      'created-201': [201, 'application/json', json],
      'sse-bom': [200, 'text/event-stream', `\uFEFF${sse(json)}`],
      'sse-upper-case': [200, 'Text/Event-Stream; charset=utf-8', sse(json)],
      'not-json': [200, 'application/json', `${json}!`],
    };
    const [status, type, text] = shapes[mode]!;
    res.writeHead(status, { 'content-type': type });
    res.end(text);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe(
  'the gateway in front of an upstream that answers in every odd way',
  { timeout: 120_000 },
  () => {
    let stack: GatewayStack;
    let upstream: Awaited<ReturnType<typeof startHostileUpstream>>;
    let gateway: Gateway;
    let url: string;
    const tokens: Record<'viewer' | 'nobody', string> = { viewer: '', nobody: '' };

    beforeAll(async () => {
      stack = await startGatewayStack('pglite', { spare: 1 });
      upstream = await startHostileUpstream();
      const resource = new URL(stack.spare[0]!);
      gateway = await startGateway({
        issuer: stack.t.url,
        port: Number(resource.port),
        host: '127.0.0.1',
        routes: [
          {
            path: '/mcp',
            resource: resource.href,
            upstream: upstream.url,
            headers: {},
            timeoutMs: 5_000,
            bodyLimitBytes: 1024 * 1024,
            rateLimit: false,
            // Many failures in a row here are the test's, not an outage to stop calling for.
            breaker: { consecutiveFailures: 1_000, halfOpenAfterMs: 1_000 },
          },
        ],
      });
      url = resource.href;
      for (const [who, roles] of [
        ['viewer', ['viewer']],
        ['nobody', []],
      ] as const) {
        await registerClient(stack.t.server.provider, stack.t.server.db.db, {
          id: `${who}-bot`,
          secret: `${who}-bot-secret-0123456789`,
          grantTypes: ['client_credentials'],
          roles: [...roles],
        });
        const res = await fetch(`${stack.t.url}/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${who}-bot:${who}-bot-secret-0123456789`).toString('base64')}`,
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', resource: url }),
        });
        tokens[who] = ((await res.json()) as { access_token: string }).access_token;
      }
    }, 300_000);
    afterAll(async () => {
      await gateway?.close();
      await upstream?.close();
      await stack?.close();
    });

    const post = (body: unknown, headers: Record<string, string> = {}, token = tokens.viewer) =>
      fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    /** The MCP SDK's client, as a caller would use it, with the upstream answering in `mode`. */
    async function sdkClient(token: string, mode: string): Promise<Client> {
      const client = new Client({ name: 'hostile-upstream-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${token}`, 'x-mode': mode } },
        }),
      );
      return client;
    }

    it('maps a redirect to the upstream onto the public path, and drops one it does not serve', async () => {
      const upstreamOrigin = new URL(upstream.url).origin;
      const cases: Array<[string, string | null]> = [
        ['UPSTREAM/mcp/', '/mcp/'],
        ['UPSTREAM/mcp?resume=1#x', '/mcp?resume=1#x'],
        ['/mcp/sub', '/mcp/sub'],
        ['sub', null],
        ['UPSTREAM/admin', null],
        ['UPSTREAM/mcpx', null],
        ['../admin', null],
        // Another port of the upstream's (loopback) host, under any loopback name: dropped.
        ['//127.0.0.1:1/elsewhere', null],
        ['http://localhost:1/elsewhere', null],
        ['//192.0.2.1:1/elsewhere', '//192.0.2.1:1/elsewhere'],
        ['https://idp.example/login?next=1', 'https://idp.example/login?next=1'],
      ];
      const call = {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'list_services', arguments: {} },
      };
      for (const [sent, expected] of cases) {
        // Through both paths of the gateway: a tool call and any other exchange, and on GET.
        const answers = [
          await post(
            { jsonrpc: '2.0', id: 1, method: 'ping' },
            { 'x-mode': 'redirect', 'x-location': sent },
          ),
          await post(call, { 'x-mode': 'redirect', 'x-location': sent }),
          await fetch(url, {
            redirect: 'manual',
            headers: {
              accept: 'text/event-stream',
              authorization: `Bearer ${tokens.viewer}`,
              'x-mode': 'redirect',
              'x-location': sent,
            },
          }),
        ];
        for (const res of answers) {
          expect(res.status, sent).toBe(307);
          expect(res.headers.get('location'), sent).toBe(expected);
          expect(res.headers.get('content-location'), sent).toBe(expected);
          expect(`${res.headers.get('location')}`).not.toContain(upstreamOrigin);
        }
      }
    });

    it('relays no response header that could name the upstream', async () => {
      const res = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { 'x-mode': 'leaky' });
      expect(res.status).toBe(200);
      const host = new URL(upstream.url).host;
      for (const [name, value] of res.headers) expect(value, name).not.toContain(host);
      for (const name of ['link', 'refresh', 'set-cookie', 'access-control-allow-origin', 'via'])
        expect(res.headers.has(name), name).toBe(false);
      expect(res.headers.get('mcp-session-id')).toBe('kept');
    });

    it('maps the redirect of an upstream that builds it from X-Forwarded-Proto, whatever the caller claims', async () => {
      const res = await post(
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { 'x-mode': 'redirect', 'x-location': 'UPSTREAM/mcp/', 'x-forwarded-proto': 'https' },
      );
      expect(res.status).toBe(307);
      expect(res.headers.get('location')).toBe('/mcp/');
      // The gateway's public URL is http here: that is what the upstream was told.
      expect(upstream.seen.at(-1)!.headers['x-forwarded-proto']).toBe('http');
      // Built from the forwarding headers, it names the gateway itself: passed as it is.
      const forwarded = await post(
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        {
          'x-mode': 'redirect',
          'x-location': 'FORWARDED/mcp/',
          'x-forwarded-host': 'evil.example',
        },
      );
      expect(forwarded.headers.get('location')).toBe(`${new URL(url).origin}/mcp/`);
    });

    it("appends the caller's address to X-Forwarded-For, after what the caller claimed", async () => {
      await post(
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-host': 'evil.example',
          forwarded: 'for=203.0.113.9;host=evil.example',
          cookie: 'gateway-site-session=1',
        },
      );
      const seen = upstream.seen.at(-1)!.headers;
      expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      expect(seen['x-forwarded-host']).toBe(new URL(url).host);
      expect(seen).not.toHaveProperty('forwarded');
      expect(seen).not.toHaveProperty('cookie');
      await post({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(upstream.seen.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('answers 5xx from the upstream with -32004 and stays up, the body left unread', async () => {
      for (const status of [500, 502, 503]) {
        const res = await post(
          { jsonrpc: '2.0', id: 1, method: 'ping' },
          { 'x-mode': `status-${status}` },
        );
        const text = await res.text();
        expect(JSON.parse(text)).toMatchObject({ id: 1, error: { code: -32004 } });
        expect(text).not.toContain('10.0.0.7');
      }
      const alive = await post({ jsonrpc: '2.0', id: 2, method: 'ping' });
      expect(await alive.json()).toMatchObject({ id: 2, result: {} });
    });

    it('shows a caller without a role no tool, in every shape of answer a client reads', async () => {
      for (const mode of [
        'default',
        'bom',
        'batch',
        'string-id',
        'created-201',
        'sse-bom',
        'sse-upper-case',
      ]) {
        const nobody = await sdkClient(tokens.nobody, mode);
        expect((await nobody.listTools()).tools, mode).toEqual([]);
        await nobody.close();
        const viewer = await sdkClient(tokens.viewer, mode);
        expect(
          (await viewer.listTools()).tools.map((t) => t.name),
          mode,
        ).toEqual(['list_services']);
        await viewer.close();
      }
      // An answer that cannot be read cannot be filtered: refused, never passed on.
      const unreadable = await post(
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        { 'x-mode': 'not-json' },
      );
      const text = await unreadable.text();
      expect(JSON.parse(text)).toMatchObject({ id: 3, error: { code: -32000 } });
      expect(text).not.toContain('deploy_service');
    });

    it('filters a resumed GET stream (Last-Event-ID), which replays earlier tool lists', async () => {
      const res = await fetch(url, {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${tokens.nobody}`,
          'last-event-id': '0',
          'x-mode': 'replay',
        },
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      const data = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { result: { tools: unknown[] } };
      expect(data).toMatchObject({ id: 2, result: { tools: [] } });
      expect(text).not.toContain('secret_admin_tool');
    });

    it('refuses every tools/call it cannot decide, and MCP tasks; none reaches the upstream', async () => {
      const before = upstream.seen.length;
      const cases: Array<[unknown, number]> = [
        [
          { method: 'tools/call', params: ['deploy_service', { environment: 'production' }] },
          -32602,
        ],
        [{ method: 'tools/call', params: { name: ['deploy_service'] } }, -32602],
        [{ method: 'tools/call', params: { name: { value: 'deploy_service' } } }, -32602],
        [{ method: 'tools/call' }, -32602],
        // Allowed by the viewer's `list_*` grant, but longer than a tool name may be.
        [{ method: 'tools/call', params: { name: `list_${'x'.repeat(124)}` } }, -32602],
        [{ method: 'Tools/Call', params: { name: 'deploy_service' } }, -32601],
        [{ method: 'tools/call ', params: { name: 'deploy_service' } }, -32601],
        // MCP tasks: a result fetched later by task id alone could reach another caller.
        [
          { method: 'tools/call', params: { name: 'list_services', task: { ttl: 60_000 } } },
          -32602,
        ],
        [{ method: 'tasks/list' }, -32601],
        [{ method: 'tasks/result', params: { taskId: 'someone-elses' } }, -32601],
        [{ method: 'tasks/get', params: { taskId: 'someone-elses' } }, -32601],
      ];
      for (const [message, code] of cases) {
        const res = await post({ jsonrpc: '2.0', id: 9, ...(message as object) });
        expect(res.status, JSON.stringify(message)).toBe(400);
        expect(await res.json()).toMatchObject({ id: 9, error: { code } });
      }
      // The prototype's name is no name: JSON.parse makes `__proto__` an own key.
      const proto = await post(
        '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"__proto__":{"name":"deploy_service"}}}',
      );
      expect(await proto.json()).toMatchObject({ error: { code: -32602 } });
      expect(upstream.seen.length).toBe(before);
    });

    it('answers JSON nested past 64 levels with -32700, never a 5xx', async () => {
      for (const depth of [65, 5_000]) {
        const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
        const res = await post(
          `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_services","arguments":${deep}}}`,
        );
        expect(res.status, String(depth)).toBe(400);
        expect(await res.json()).toMatchObject({ error: { code: -32700 } });
      }
      const fine = await post({
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: {
          name: 'list_services',
          arguments: JSON.parse(`${'{"a":'.repeat(60)}1${'}'.repeat(60)}`),
        },
      });
      expect(await fine.json()).toMatchObject({ id: 4, result: { content: [{ text: 'ran' }] } });
    });

    it('sends upstream no Expect, no underscore header and no forged principal; keeps its own challenge', async () => {
      const before = upstream.seen.length;
      // node:http, since fetch refuses to send Expect.
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${tokens.viewer}`,
            expect: '100-continue',
            mcp_session_id: 'someone-elses-session',
            mcp_elevate_principal: 'forged',
            x_custom_thing: 'x',
          },
        });
        req.on('continue', () =>
          req.end(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' })),
        );
        req.on('response', (res) => {
          let text = '';
          res.on('data', (chunk) => (text += String(chunk)));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
      });
      expect(JSON.parse(answer)).toMatchObject({ id: 5, result: {} });
      const headers = upstream.seen[before]!.headers;
      expect(Object.keys(headers).filter((name) => name.includes('_'))).toEqual([]);
      expect(headers.expect).toBeUndefined();
      // The upstream's own challenge would send the client to sign in elsewhere.
      const challenged = await post(
        { jsonrpc: '2.0', id: 6, method: 'ping' },
        { 'x-mode': 'challenge' },
      );
      expect(challenged.status).toBe(401);
      expect(challenged.headers.get('www-authenticate')).toBeNull();
    });

    it('refuses a session id it did not see opened, as it refuses another caller’s', async () => {
      const before = upstream.seen.length;
      const res = await post(
        { jsonrpc: '2.0', id: 7, method: 'ping' },
        { 'mcp-session-id': 'a-session-nobody-opened-here' },
      );
      expect(res.status).toBe(404);
      expect(upstream.seen.length).toBe(before);
    });

    it('answers a request it cannot parse with 400, and oversized headers with 431', async () => {
      const { port } = new URL(url);
      const raw = async (head: string) => {
        const socket = connect(Number(port), '127.0.0.1');
        socket.write(head);
        let text = '';
        for await (const chunk of socket) text += String(chunk);
        return text.split('\r\n')[0];
      };
      expect(await raw('POST /mcp HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n')).toBe(
        'HTTP/1.1 400 Bad Request',
      );
      expect(
        await raw(
          'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        ),
      ).toBe('HTTP/1.1 400 Bad Request');
      expect(
        await raw(`GET /mcp HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      ).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    });
  },
);
