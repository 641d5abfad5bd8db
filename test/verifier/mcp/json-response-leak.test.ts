import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { protectMcpServer } from '../../../src/verifier/mcp/protect.ts';
import { releaseJsonResponseStreams } from '../../../src/verifier/index.ts';
import { SDK_JSON_RESPONSE_LEAK_ISSUE } from '../../../src/verifier/mcp/sdk-json-response-leak.ts';
import { postToolCall } from '../../helpers/mcp-http.ts';
import { allowAll, authInfo } from './harness.ts';

/** The SDK's internals the workaround acts on, read to observe what a session retains. */
interface Internals {
  _streamMapping: Map<string, { resolveJson?: (r: Response) => void; cleanup: () => void }>;
  _requestToStreamMapping: Map<unknown, string>;
  _requestResponseMap: Map<unknown, unknown>;
}
const internals = (t: StreamableHTTPServerTransport) =>
  (t as unknown as { _webStandardTransport: Internals })._webStandardTransport;
/** Entries kept for single requests; the client's standalone GET stream is a session's own. */
const perRequest = (t: StreamableHTTPServerTransport) =>
  [...internals(t)._streamMapping.keys()].filter((id) => id !== '_GET_stream').length;

type Setup = 'protected' | 'released' | 'bare';
interface Fixture {
  url: URL;
  transports: StreamableHTTPServerTransport[];
  /** Runs on each new transport once connected, before its first request (e.g. another SDK). */
  prepare?: (t: StreamableHTTPServerTransport) => void;
  /** A call of `slow` waits for this. */
  gate: Promise<void>;
  open(): void;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

/**
 * A stateful MCP server in JSON-response mode, as the SDK documents it: one transport per
 * session. `protected`: through `protectMcpServer`; `released`: unprotected, with
 * `releaseJsonResponseStreams`; `bare`: neither (the SDK as it is).
 */
async function start(setup: Setup, prepare?: Fixture['prepare']): Promise<Fixture> {
  let open = () => {};
  const fixture = {
    transports: [],
    prepare,
    gate: new Promise<void>((r) => (open = r)),
  } as unknown as Fixture;
  fixture.open = open;
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const newServer = () => {
    const server = new McpServer({ name: 'leak-test', version: '1.0.0' });
    const ok = (text: string) => ({ content: [{ type: 'text' as const, text }] });
    const tools =
      setup === 'protected'
        ? protectMcpServer(server, { decide: allowAll, visible: () => true, rateLimit: false })
        : server;
    tools.registerTool('echo', { annotations: { readOnlyHint: true } }, () => ok('echo'));
    tools.registerTool('slow', {}, async () => (await fixture.gate, ok('slow')));
    return server;
  };
  const http: Server = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      (req as IncomingMessage & { auth?: unknown }).auth = authInfo('alice', ['developer']);
      const id = req.headers['mcp-session-id'];
      const existing = typeof id === 'string' ? sessions.get(id) : undefined;
      if (existing !== undefined) return existing.handleRequest(req, res, body);
      if (!isInitializeRequest(body)) return void res.writeHead(400).end();
      let transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
      });
      if (setup === 'released') transport = releaseJsonResponseStreams(transport);
      fixture.transports.push(transport);
      await newServer().connect(transport);
      fixture.prepare?.(transport);
      await transport.handleRequest(req, res, body);
    })().catch(() => (res.headersSent ? res.end() : res.writeHead(500).end()));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  closers.push(async () => {
    await Promise.all([...sessions.values()].map((t) => t.close()));
    http.closeAllConnections();
    http.close();
  });
  fixture.url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  return fixture;
}

async function client(fixture: Fixture): Promise<Client> {
  const c = new Client({ name: 'leak-test-client', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(fixture.url));
  closers.push(() => c.close());
  return c;
}

const CALLS = 25;

describe('JSON-response stream mappings (MCP SDK issue #2559)', () => {
  it('a protected server keeps no per-request entry after many calls in one session', async () => {
    const fixture = await start('protected');
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) {
      expect((await c.callTool({ name: 'echo', arguments: {} })).content).toEqual([
        { type: 'text', text: 'echo' },
      ]);
    }
    await c.listTools();
    const [transport] = fixture.transports;
    expect(perRequest(transport)).toBe(0);
    expect(internals(transport)._requestToStreamMapping.size).toBe(0);
    expect(internals(transport)._requestResponseMap.size).toBe(0);
  });

  it('an unprotected transport given the workaround keeps no per-request entry', async () => {
    const fixture = await start('released');
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) await c.callTool({ name: 'echo', arguments: {} });
    expect(perRequest(fixture.transports[0])).toBe(0);
  });

  it('without the workaround the installed SDK still keeps one entry per request', async () => {
    // When this fails, the SDK releases the entries itself: the workaround can then go.
    const fixture = await start('bare');
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) await c.callTool({ name: 'echo', arguments: {} });
    expect(perRequest(fixture.transports[0])).toBeGreaterThanOrEqual(CALLS);
  });

  it('a request still being handled keeps its entry until its answer is sent', async () => {
    const fixture = await start('protected');
    const c = await client(fixture);
    const slow = c.callTool({ name: 'slow', arguments: {} });
    await c.callTool({ name: 'echo', arguments: {} });
    const [transport] = fixture.transports;
    expect(perRequest(transport)).toBe(1);
    fixture.open();
    expect((await slow).content).toEqual([{ type: 'text', text: 'slow' }]);
    expect(perRequest(transport)).toBe(0);
  });
});

describe('an SDK that fixed the leak', () => {
  /**
   * Stands in for a fixed SDK the way its 1.x fix works: after answering through `resolveJson`,
   * `send()` runs the entry's `cleanup` itself. Counts how often the SDK's own cleanup runs.
   */
  function fixedSdk(counts: number[]) {
    return (transport: StreamableHTTPServerTransport) => {
      const map = internals(transport)._streamMapping;
      const set = map.set.bind(map);
      map.set = (key, entry) => {
        if (entry.resolveJson === undefined) return set(key, entry);
        const slot = counts.push(0) - 1;
        const { cleanup } = entry;
        entry.cleanup = () => {
          counts[slot]++;
          cleanup();
        };
        // The workaround, when applied, wraps the entry here.
        set(key, entry);
        // send(): looks the entry up, answers, then runs the entry's cleanup.
        const stream = map.get(key)!;
        const answer = stream.resolveJson!;
        stream.resolveJson = (response) => {
          answer(response);
          stream.cleanup();
        };
        return map;
      };
    };
  }

  it('the stand-in releases every entry by itself, once', async () => {
    const counts: number[] = [];
    const fixture = await start('bare', fixedSdk(counts));
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) await c.callTool({ name: 'echo', arguments: {} });
    expect(perRequest(fixture.transports[0])).toBe(0);
    expect(counts.length).toBeGreaterThanOrEqual(CALLS);
    expect(counts.every((n) => n === 1)).toBe(true);
  });

  it('the workaround is a no-op there: every entry cleaned up exactly once, no error', async () => {
    const counts: number[] = [];
    const fixture = await start('released', fixedSdk(counts));
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) {
      expect((await c.callTool({ name: 'echo', arguments: {} })).isError).toBeFalsy();
    }
    expect(perRequest(fixture.transports[0])).toBe(0);
    expect(counts.length).toBeGreaterThanOrEqual(CALLS);
    expect(counts.every((n) => n === 1)).toBe(true);
    // Closing runs no cleanup a second time either.
    await fixture.transports[0].close();
    expect(counts.every((n) => n === 1)).toBe(true);
  });

  it('applying it twice (example server, then protectMcpServer) changes nothing', async () => {
    const counts: number[] = [];
    const fixture = await start('protected', (t) => {
      releaseJsonResponseStreams(releaseJsonResponseStreams(t));
      fixedSdk(counts)(t);
    });
    const c = await client(fixture);
    for (let i = 0; i < CALLS; i++) await c.callTool({ name: 'echo', arguments: {} });
    expect(perRequest(fixture.transports[0])).toBe(0);
    expect(counts.every((n) => n === 1)).toBe(true);
  });
});

describe('an SDK whose internals changed shape', () => {
  // Stateful transports: the ones the workaround acts on (stateless ones are left alone).
  const naming = new RegExp(SDK_JSON_RESPONSE_LEAK_ISSUE.replace(/[/.]/g, '\\$&'));

  it('a transport without the wrapped web-standard transport is refused, naming the issue', () => {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: true,
    });
    delete (transport as unknown as { _webStandardTransport?: unknown })._webStandardTransport;
    expect(() => releaseJsonResponseStreams(transport)).toThrow(naming);
  });

  it('a transport without the stream map is refused, naming the issue', () => {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: true,
    });
    (internals(transport) as unknown as { _streamMapping: unknown })._streamMapping = {};
    expect(() => releaseJsonResponseStreams(transport)).toThrow(naming);
  });

  it('a protected server refuses to connect such a transport', async () => {
    const server = new McpServer({ name: 'shape', version: '1.0.0' });
    protectMcpServer(server, { decide: allowAll, visible: () => true });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: true,
    });
    (internals(transport) as unknown as { _streamMapping: unknown })._streamMapping = new Set();
    await expect(server.connect(transport)).rejects.toThrow(naming);
  });

  it('a per-request entry of another shape is refused when registered, naming the issue', () => {
    const transport = releaseJsonResponseStreams(
      new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
      }),
    );
    const map = internals(transport)._streamMapping as Map<string, unknown>;
    expect(() => map.set('s1', { resolve: () => {}, cleanup: () => {} })).toThrow(naming);
    expect(() => map.set('s2', { resolveJson: () => {} })).toThrow(naming);
    expect(map.size).toBe(0);
  });

  it('other transports are left alone', async () => {
    const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
    const [a] = InMemoryTransport.createLinkedPair();
    expect(releaseJsonResponseStreams(a)).toBe(a);
  });
});

describe('a stateless transport (no sessionIdGenerator)', () => {
  it('is left as it is: the SDK serves it one request, so its one entry goes with it', async () => {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    const map = internals(transport)._streamMapping;
    expect(releaseJsonResponseStreams(transport)).toBe(transport);
    expect(Object.hasOwn(map, 'set')).toBe(false);
    // What makes skipping it sound: the SDK refuses a second request on it.
    const server = new McpServer({ name: 'stateless', version: '1.0.0' });
    protectMcpServer(server, {
      decide: allowAll,
      visible: () => true,
      rateLimit: false,
    }).registerTool('echo', {}, () => ({ content: [{ type: 'text' as const, text: 'echo' }] }));
    await server.connect(transport);
    const http: Server = createServer((req, res) => {
      void (async () => {
        const body = await readJson(req);
        (req as IncomingMessage & { auth?: unknown }).auth = authInfo('alice', ['developer']);
        await transport.handleRequest(req, res, body);
      })().catch(() => (res.headersSent ? res.end() : res.writeHead(500).end()));
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    closers.push(async () => {
      await transport.close();
      http.closeAllConnections();
      http.close();
    });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    const call = () => postToolCall(url, 'echo', {});
    const first = await call();
    expect(first.status).toBe(200);
    expect(((await first.json()) as { result: unknown }).result).toEqual({
      content: [{ type: 'text', text: 'echo' }],
    });
    expect(Object.hasOwn(map, 'set')).toBe(false);
    const second = await call();
    expect(second.status).not.toBe(200);
  });
});
