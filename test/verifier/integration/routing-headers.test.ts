import { createServer, request } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTokenVerifier,
  expressAuth,
  HEADER_MISMATCH,
  koaAuth,
  nodeHttpAuth,
  type ResourceServerAuthOptions,
} from '../../../src/verifier/index.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RESOURCE, signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';

/**
 * The `Mcp-Method` / `Mcp-Name` request headers (MCP 2026-07-28) must agree with the JSON-RPC
 * body the guard decides on, through every adapter: intermediaries route and meter on the
 * headers, the guard and the MCP server act on the body. Each kind of contradiction is refused
 * with 400 and JSON-RPC -32020 before `decide` runs or the MCP server is reached; matching and
 * absent headers pass; an unauthenticated request is challenged first, whatever its headers.
 * (The gateway runs this same guard: `test/gateway/transport.test.ts`.)
 */

let issuer: TestIssuer;
let token: string;
const servers: Started[] = [];
const urls: Record<string, string> = {};
const reached: Record<string, number> = {};
const decided: Record<string, number> = {};

const ADAPTERS = ['node:http', 'Express', 'Koa'] as const;

beforeAll(async () => {
  issuer = await startIssuer();
  token = await signAccessToken(issuer);
  const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
  const options = (adapter: string): ResourceServerAuthOptions => ({
    verifier,
    decide: () => {
      decided[adapter] = (decided[adapter] ?? 0) + 1;
      return { decision: 'allow' };
    },
  });
  const answer = (adapter: string, res: import('node:http').ServerResponse) => {
    reached[adapter] = (reached[adapter] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
  };

  const guard = nodeHttpAuth(options('node:http'));
  const nodeServer = await listen(
    createServer(async (req, res) => {
      if ((await guard(req, res)) !== undefined) answer('node:http', res);
    }),
  );
  const app = express();
  app.use(express.json(), expressAuth(options('Express')));
  app.post('/mcp', (_req, res) => answer('Express', res));
  const expressServer = await listen(createServer(app));
  const koa = new Koa();
  koa.use(koaAuth(options('Koa')));
  koa.use((ctx) => {
    ctx.respond = false;
    answer('Koa', ctx.res);
  });
  const koaServer = await listen(createServer(koa.callback()));
  servers.push(nodeServer, expressServer, koaServer);
  Object.assign(urls, {
    'node:http': nodeServer.url,
    Express: expressServer.url,
    Koa: koaServer.url,
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await issuer.close();
});

const call = (name: string) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name, arguments: {} },
});

/** MCP 2026-07-28's encoded form of a header value. */
const b64 = (value: string) => `=?base64?${Buffer.from(value).toString('base64')}?=`;

/** The contradictions: each names something other than what the body does, or nothing readable. */
const CONTRADICTIONS: Array<[string, Record<string, string | string[]>, unknown]> = [
  ['another method', { 'mcp-method': 'tools/list' }, call('list_services')],
  ['another tool', { 'mcp-method': 'tools/call', 'mcp-name': 'read' }, call('delete_all')],
  ['a name without a method', { 'mcp-name': 'read' }, call('delete_all')],
  ['a method in another case', { 'mcp-method': 'Tools/Call' }, call('list_services')],
  ['the method repeated', { 'mcp-method': 'tools/call, tools/call' }, call('list_services')],
  [
    'a name for a method that has none',
    { 'mcp-method': 'tools/list', 'mcp-name': 'x' },
    { jsonrpc: '2.0', id: 7, method: 'tools/list' },
  ],
  [
    'another resource',
    { 'mcp-method': 'resources/read', 'mcp-name': 'file:///public' },
    { jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri: 'file:///secret' } },
  ],
  ['a batch', { 'mcp-method': 'tools/call', 'mcp-name': 'read' }, [call('read'), call('delete')]],
  ['a message without a method', { 'mcp-method': 'tools/call' }, { jsonrpc: '2.0', id: 7 }],
  // The same header on two lines: an intermediary reading the first sees `read`.
  ['the name on two lines', { 'mcp-name': ['read', 'delete'] }, call('read, delete')],
  ['the method on two lines', { 'mcp-method': ['tools/call', 'tools/call'] }, call('read')],
  // Another spelling of the name, read as Mcp-Name by CGI-style servers.
  ['the name with an underscore', { mcp_name: 'read' }, call('delete_all')],
  ['both spellings', { 'mcp-name': 'read', mcp_name: 'read' }, call('read')],
  // A method without a name, whatever its prototype holds.
  [
    'a name beside a method named after a prototype property',
    { 'mcp-name': 'x' },
    { jsonrpc: '2.0', id: 7, method: 'constructor', params: { name: 'x' } },
  ],
  ['another tool, encoded', { 'mcp-name': b64('read') }, call('delete_all')],
  // The body names the encoded form literally; the header decodes to another tool.
  ['an encoded name taken literally', { 'mcp-name': b64('delete_all') }, call(b64('delete_all'))],
  ['encoding that is not canonical', { 'mcp-name': '=?base64?cmVhZA?=' }, call('read')],
  ['an encoding of bytes that are not UTF-8', { 'mcp-name': '=?base64?/w==?=' }, call('\ufffd')],
  ['a name outside ASCII, not encoded', { 'mcp-name': 'h\u00e9llo' }, call('h\u00e9llo')],
];

describe.each(ADAPTERS)('behind %s', (adapter) => {
  /** Raw HTTP: a header given as a list goes out as that many lines. */
  const post = (
    headers: Record<string, string | string[]>,
    body: unknown,
    bearer: string | null = token,
  ) =>
    new Promise<{ status: number; json(): Promise<unknown>; header(n: string): unknown }>(
      (resolve, reject) => {
        const req = request(`${urls[adapter]}/mcp`, {
          method: 'POST',
          headers: {
            ...(bearer !== null && { authorization: `Bearer ${bearer}` }),
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
        });
        req.on('response', async (res) => {
          let text = '';
          for await (const chunk of res) text += String(chunk);
          resolve({
            status: res.statusCode!,
            json: async () => JSON.parse(text) as unknown,
            header: (n) => res.headers[n],
          });
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      },
    );

  it.each(CONTRADICTIONS)(
    'refuses %s with 400 (-32020) before deciding or reaching the MCP server',
    async (_kind, headers, body) => {
      const [reachedBefore, decidedBefore] = [reached[adapter] ?? 0, decided[adapter] ?? 0];
      const res = await post(headers, body);
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { id: unknown; error: { code: number } };
      expect(answer.error.code).toBe(HEADER_MISMATCH);
      expect(answer.id).toBe(Array.isArray(body) ? null : 7);
      expect(reached[adapter] ?? 0).toBe(reachedBefore);
      expect(decided[adapter] ?? 0).toBe(decidedBefore);
    },
  );

  it('lets matching headers, and requests without them, through', async () => {
    const before = reached[adapter] ?? 0;
    const matching = await post(
      { 'mcp-method': 'tools/call', 'mcp-name': 'list_services' },
      call('list_services'),
    );
    expect(matching.status).toBe(200);
    const resource = await post(
      { 'mcp-method': 'resources/read', 'mcp-name': 'file:///public' },
      { jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri: 'file:///public' } },
    );
    expect(resource.status).toBe(200);
    const without = await post({}, call('list_services'));
    expect(without.status).toBe(200);
    // MCP 2026-07-28's encoding, for a name outside ASCII and for one inside it.
    const encoded = await post(
      { 'mcp-method': 'tools/call', 'mcp-name': b64('h\u00e9llo') },
      call('h\u00e9llo'),
    );
    expect(encoded.status).toBe(200);
    const encodedAscii = await post({ 'mcp-name': b64('list_services') }, call('list_services'));
    expect(encodedAscii.status).toBe(200);
    expect(reached[adapter]).toBe(before + 5);
  });

  it('challenges an unauthenticated request first, whatever its headers say', async () => {
    const res = await post({ 'mcp-method': 'tools/list' }, call('list_services'), null);
    expect(res.status).toBe(401);
    expect(res.header('www-authenticate')).toMatch(/^Bearer /);
  });
});
