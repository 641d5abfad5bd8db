import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  createTokenVerifier,
  createToolProtection,
  createToolMetrics,
  expressAuth,
  nodeHttpAuth,
  type DecideToolCall,
  type ToolCallDecision,
} from '../../../src/verifier/index.ts';
import type { ToolCall } from '../../../src/verifier/http/decide.ts';
import { serveStateless } from '../../helpers/mcp-http.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RESOURCE, signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';

/**
 * Hostile tests of the guard allowance: a `tools/call` the HTTP guard allowed is not decided again
 * by `protectMcpServer`. Both layers run the SAME policy below, so a tool may only ever run with
 * arguments, and under a token, that this policy allows for what the tool receives. Each test tries
 * to make a tool run anyway, over real HTTP, with the MCP SDK's real transport and real JWTs.
 */

/** The one policy: production never; `qa` only for developers; `purge` only for developers; ≤ 10 replicas. */
function policy(roles: readonly string[], call: ToolCall): ToolCallDecision {
  const args = call.arguments;
  if (args.environment === 'production') return { decision: 'deny', reason: 'no production' };
  if (args.environment === 'qa' && !roles.includes('developer'))
    return { decision: 'deny', reason: 'qa needs developer' };
  if (call.name === 'purge' && !roles.includes('developer'))
    return { decision: 'deny', reason: 'purge needs developer' };
  if (typeof args.replicas === 'number' && args.replicas > 10)
    return { decision: 'deny', reason: 'too many replicas' };
  return { decision: 'allow' };
}

type GuardMode = 'policy' | 'throws' | 'rejects' | 'emptyStepUp' | 'unknownVerdict';
let guardMode: GuardMode = 'policy';
const guardCalls: ToolCall[] = [];
/** The guard's decide: the policy, or (per test) a broken implementation of it. */
const guardDecide: DecideToolCall = (auth, call) => {
  guardCalls.push(call);
  const verdict = policy(auth.roles, call);
  switch (guardMode) {
    case 'throws':
      throw new Error('policy engine crashed');
    case 'rejects':
      return Promise.reject(new Error('policy engine unavailable'));
    case 'emptyStepUp':
      // A refusal expressed as a step-up that names no scope (e.g. a misconfigured catalogue).
      return verdict.decision === 'allow' ? verdict : { decision: 'step_up', scopes: [] };
    case 'unknownVerdict':
      // A refusal the guard does not recognise (e.g. a remote PDP answering "refuse").
      return verdict.decision === 'allow'
        ? verdict
        : ({ decision: 'refuse' } as unknown as ToolCallDecision);
    default:
      return verdict;
  }
};

interface Decided extends ToolCall {
  token: string;
}
const toolCalls: Decided[] = [];
const toolDecide = (authInfo: AuthInfo, call: ToolCall): ToolCallDecision => {
  toolCalls.push({ ...call, token: authInfo.token });
  return policy((authInfo.extra?.roles as string[] | undefined) ?? [], call);
};

/** What the tools actually ran with. */
const ran: Array<{ name: string; args: Record<string, unknown>; token?: string }> = [];

const protection = createToolProtection({
  decide: toolDecide,
  guardDecide,
  visible: () => true,
  rateLimit: false,
  metrics: createToolMetrics(),
});

const ok = (text: string) => ({ content: [{ type: 'text' as const, text }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Held by the first call of `deploy_trim` while set (to keep a session request in flight). */
let hold: { promise: Promise<void>; release: () => void } | undefined;

function registerTools(server: McpServer): void {
  const tools = protection(server);
  const record =
    (name: string) =>
    (args: Record<string, unknown>, extra: { authInfo?: AuthInfo }): ReturnType<typeof ok> => {
      ran.push({ name, args, token: extra.authInfo?.token });
      return ok(`${name}:${String(args.environment ?? args.replicas ?? '')}`);
    };
  tools.registerTool(
    'deploy',
    { inputSchema: { service: z.string(), environment: z.string().default('production') } },
    record('deploy'),
  );
  tools.registerTool(
    'deploy_trim',
    { inputSchema: { environment: z.string().transform((s) => s.trim()) } },
    async (args, extra) => {
      const held = hold;
      hold = undefined;
      if (held !== undefined) {
        ran.push({ name: 'deploy_trim:held', args, token: extra.authInfo?.token });
        await held.promise;
      }
      return record('deploy_trim')(args, extra);
    },
  );
  tools.registerTool(
    'deploy_lower',
    { inputSchema: { environment: z.string().transform((s) => s.toLowerCase()) } },
    record('deploy_lower'),
  );
  tools.registerTool(
    'deploy_coerce',
    { inputSchema: { environment: z.coerce.string() } },
    record('deploy_coerce'),
  );
  tools.registerTool(
    'deploy_pre',
    {
      inputSchema: z.preprocess(
        (v) =>
          typeof v === 'object' && v !== null && 'env' in v
            ? { environment: (v as { env: unknown }).env }
            : v,
        z.object({ environment: z.string() }),
      ),
    },
    record('deploy_pre'),
  );
  tools.registerTool(
    'deploy_loose',
    { inputSchema: z.looseObject({ service: z.string().optional() }) },
    record('deploy_loose'),
  );
  tools.registerTool(
    'deploy_record',
    { inputSchema: z.record(z.string(), z.unknown()) },
    record('deploy_record'),
  );
  tools.registerTool(
    'deploy_slow',
    {
      inputSchema: {
        service: z.string().refine(async () => {
          await sleep(100);
          return true;
        }),
        environment: z.string().default('production'),
      },
    },
    record('deploy_slow'),
  );
  tools.registerTool('scale', { inputSchema: { replicas: z.coerce.number() } }, record('scale'));
  tools.registerTool('schedule', { inputSchema: { when: z.coerce.date() } }, record('schedule'));
  tools.registerTool('purge', {}, (extra) => record('purge')({}, extra));
  tools.registerTool('restart', {}, (extra) => record('restart')({}, extra));
  // User code gone bad: rewrites the guard's allowance it can reach through the AuthInfo.
  tools.registerTool('tamper', {}, (extra) => {
    const authInfo = extra.authInfo as object;
    for (const symbol of Object.getOwnPropertySymbols(authInfo)) {
      const allowance = (authInfo as Record<symbol, { calls?: ToolCall[] }>)[symbol];
      try {
        allowance.calls?.push(
          { name: 'deploy_slow', arguments: { service: 'api', environment: 'production' } },
          { name: 'deploy', arguments: { service: 'api', environment: 'production' } },
        );
      } catch {
        // frozen: good
      }
    }
    return record('tamper')({}, extra);
  });
}

/** The SDK's stateless pattern: one server and transport per request, JSON responses. */
async function serveAttacked(req: IncomingMessage, res: ServerResponse, body: unknown) {
  const server = new McpServer({ name: 'attack', version: '1.0.0' });
  registerTools(server);
  await serveStateless(server, req, res, body);
}

let issuer: TestIssuer;
let developer: string;
let viewer: string;
const servers: Started[] = [];
let nodeUrl = '';
let expressUrl = '';
let sessionUrl = '';
const sessions = new Map<string, StreamableHTTPServerTransport>();

beforeAll(async () => {
  issuer = await startIssuer();
  developer = await signAccessToken(issuer, { roles: ['developer'] });
  viewer = await signAccessToken(issuer, { roles: ['viewer'], sub: 'user-2' });
  const verifier = createTokenVerifier({ issuer: issuer.issuer, resource: RESOURCE });
  const options = { verifier, decide: guardDecide };

  const node = nodeHttpAuth(options);
  const nodeServer = await listen(
    createServer(async (req, res) => {
      if ((await node(req, res)) === undefined) return;
      await serveAttacked(req, res, (req as { body?: unknown }).body);
    }),
  );

  const app = express();
  // A raw body parser in front of the guard: the guard gets a Buffer, the app parses it itself.
  app.post('/raw', express.raw({ type: '*/*' }), expressAuth(options), (req, res) => {
    void serveAttacked(req, res, JSON.parse((req.body as Buffer).toString('utf8')));
  });
  app.use(express.json(), expressAuth(options));
  // Application middleware after the guard that fills in a default environment.
  app.post('/defaults', (req, res, next) => {
    const params = (req.body as { params?: { arguments?: Record<string, unknown> } }).params;
    if (params?.arguments !== undefined) params.arguments.environment ??= 'production';
    next();
  });
  // Application middleware that copies req.auth (e.g. to add fields).
  app.post('/copy/:how', (req, _res, next) => {
    const r = req as unknown as { auth: AuthInfo };
    if (req.params.how === 'spread') r.auth = { ...r.auth };
    if (req.params.how === 'assign') r.auth = Object.assign({}, r.auth);
    if (req.params.how === 'json') r.auth = JSON.parse(JSON.stringify(r.auth)) as AuthInfo;
    next();
  });
  app.post(['/mcp', '/defaults', '/copy/:how'], (req, res) => {
    void serveAttacked(req, res, req.body);
  });
  const expressServer = await listen(createServer(app));

  // Stateful: one transport and server per session, SSE responses.
  const sessionServer = await listen(
    createServer(async (req, res) => {
      if ((await node(req, res)) === undefined) return;
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? sessions.get(id) : undefined;
      if (transport === undefined) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sid) => void sessions.set(sid, created),
        });
        const server = new McpServer({ name: 'attack-session', version: '1.0.0' });
        registerTools(server);
        await server.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, (req as { body?: unknown }).body);
    }),
  );
  servers.push(nodeServer, expressServer, sessionServer);
  nodeUrl = nodeServer.url;
  expressUrl = expressServer.url;
  sessionUrl = sessionServer.url;
});
afterAll(async () => {
  await Promise.all([...sessions.values()].map((t) => t.close()));
  await Promise.all(servers.map((s) => s.close()));
  await issuer.close();
});
beforeEach(() => {
  guardMode = 'policy';
  guardCalls.length = 0;
  toolCalls.length = 0;
  ran.length = 0;
  hold = undefined;
});

interface RpcAnswer {
  id?: unknown;
  result?: { content?: Array<{ text: string }>; isError?: boolean };
  error?: { code: number; message?: string };
}

/** Parses a JSON or SSE (`data:` lines) response body into its JSON-RPC messages. */
function messagesOf(contentType: string | null, text: string): unknown {
  if (contentType?.includes('text/event-stream')) {
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as unknown);
    return data.length === 1 ? data[0] : data;
  }
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

async function post(
  url: string,
  body: unknown,
  token = developer,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: messagesOf(res.headers.get('content-type'), text),
    headers: res.headers,
  };
}

const callMsg = (name: string, args: unknown, id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** One `tools/call` answer (status 200 expected). */
async function callTool(
  name: string,
  args: unknown,
  token = developer,
  url = `${nodeUrl}/mcp`,
): Promise<RpcAnswer> {
  const { status, json } = await post(url, callMsg(name, args), token);
  expect(status).toBe(200);
  return json as RpcAnswer;
}

const ranWith = (env: string) => ran.filter((r) => r.args.environment === env);

describe('batches', () => {
  it('the SDK accepts a batch, and each call of it is decided on what its tool receives', async () => {
    const { status, json } = await post(`${nodeUrl}/mcp`, [
      callMsg('deploy', { service: 'api', environment: 'staging' }, 1),
      callMsg('deploy_trim', { environment: ' production ' }, 2),
    ]);
    expect(status).toBe(200);
    const answers = json as RpcAnswer[];
    expect(answers.find((a) => a.id === 1)?.result?.content?.[0].text).toBe('deploy:staging');
    expect(answers.find((a) => a.id === 2)?.error?.code).toBe(-32002);
    expect(ranWith('production')).toEqual([]);
    expect(toolCalls.map((c) => c.arguments)).toEqual([{ environment: 'production' }]);
  });

  it('a batch mixing an allowed and a refused call runs nothing', async () => {
    const { json } = await post(`${nodeUrl}/mcp`, [
      callMsg('deploy', { service: 'api', environment: 'staging' }, 1),
      callMsg('deploy', { service: 'api', environment: 'production' }, 2),
    ]);
    expect((json as RpcAnswer[]).map((a) => a.error?.code)).toEqual([-32002, -32002]);
    expect(ran).toEqual([]);
  });

  it('two calls with the same id: the one whose default fills in production is refused', async () => {
    await post(`${nodeUrl}/mcp`, [
      callMsg('deploy', { service: 'api', environment: 'staging' }, 7),
      callMsg('deploy', { service: 'api' }, 7),
    ]).catch(() => undefined); // duplicate ids may confuse the response; the tools' log is what counts
    for (let i = 0; i < 50 && toolCalls.length === 0; i++) await sleep(10);
    expect(ranWith('production')).toEqual([]);
    expect(toolCalls.map((c) => c.arguments)).toEqual([
      { service: 'api', environment: 'production' },
    ]);
  });

  it('an allowance cannot be rewritten by a tool of the same batch to cover a later call', async () => {
    // `tamper` runs first and pushes a production deploy into the allowance it can reach; the
    // slow deploy's default then fills in production, which must be decided again.
    const { json } = await post(`${nodeUrl}/mcp`, [
      callMsg('tamper', {}, 1),
      callMsg('deploy_slow', { service: 'api' }, 2),
    ]);
    expect(ran.map((r) => r.name)).not.toContain('deploy_slow');
    expect((json as RpcAnswer[]).find((a) => a.id === 2)?.error?.code).toBe(-32002);
  });
});

describe('JSON shapes', () => {
  it.each([
    [
      'duplicate argument keys',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy","arguments":{"service":"api","environment":"staging","environment":"production"}}}',
    ],
    [
      'duplicate params',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy","arguments":{"service":"api","environment":"staging"}},"params":{"name":"deploy","arguments":{"service":"api","environment":"production"}}}',
    ],
    [
      'duplicate method',
      '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"deploy","arguments":{"service":"api","environment":"production"}},"method":"tools/call"}',
    ],
    [
      'duplicate tool name',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"restart","name":"deploy","arguments":{"service":"api","environment":"production"}}}',
    ],
    [
      'unicode-escaped keys and values',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\u0064eploy","arguments":{"service":"api","\\u0065nvironment":"pr\\u006fduction"}}}',
    ],
  ])('%s: what the guard decided is what the SDK runs', async (_label, body) => {
    const { status, json } = await post(`${nodeUrl}/mcp`, body);
    expect(status).toBe(200);
    expect((json as RpcAnswer).error?.code).toBe(-32002);
    expect(ran).toEqual([]);
  });

  it.each([
    ['an array', ['production']],
    ['null', null],
    ['a string', 'production'],
    ['a number', 5],
    ['true', true],
  ])('arguments as %s (the guard decides {}) never reach a tool', async (_label, args) => {
    for (const name of ['deploy', 'restart', 'purge']) {
      const answer = await callTool(name, args, viewer);
      expect(answer.result?.isError === true || answer.error !== undefined).toBe(true);
    }
    expect(ran).toEqual([]);
  });

  it.each([
    ['deploy_loose', '{"service":"api","__proto__":{"environment":"production"}}'],
    ['deploy_record', '{"__proto__":{"environment":"production"}}'],
    ['deploy_loose', '{"constructor":{"prototype":{"environment":"production"}}}'],
    ['deploy_record', '{"__proto__":{"environment":"production"},"environment":"staging"}'],
  ])('%s with %s never runs seeing production', async (name, args) => {
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`;
    await post(`${nodeUrl}/mcp`, body);
    const seen = ran.map((r) => r.args.environment);
    expect(seen).not.toContain('production');
  });

  it.each(['Purge', 'purge ', ' purge', 'ｐurge', 'purge\u0000', 'pu\u200brge'])(
    'a tool name spelled %j does not reach purge for a viewer',
    async (name) => {
      await callTool(name, {}, viewer);
      expect(ran).toEqual([]);
    },
  );

  it('purge escaped as \\u0070urge is refused to a viewer at the guard', async () => {
    const { json } = await post(
      `${nodeUrl}/mcp`,
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\u0070urge"}}',
      viewer,
    );
    expect((json as RpcAnswer).error?.code).toBe(-32002);
    expect(ran).toEqual([]);
  });
});

describe('schemas that change the arguments: decided again on what the tool receives', () => {
  it.each([
    ['deploy_trim', { environment: ' production ' }],
    ['deploy_lower', { environment: 'PRODUCTION' }],
    ['deploy_coerce', { environment: ['production'] }],
    ['deploy_pre', { env: 'production' }],
    ['deploy', { service: 'api' }],
  ])('%s %j is refused', async (name, args) => {
    const answer = await callTool(name, args);
    expect(answer.error?.code).toBe(-32002);
    expect(ranWith('production')).toEqual([]);
    expect(toolCalls.at(-1)?.arguments.environment).toBe('production');
  });

  it.each([['100'], ['1e3'], [[100]], ['  20  ']])(
    'replicas coerced from %j are decided as a number',
    async (replicas) => {
      const answer = await callTool('scale', { replicas });
      expect(answer.error?.code).toBe(-32002);
      expect(ran).toEqual([]);
    },
  );

  it('numbers JSON cannot hold (1e400) never pass as allowed', async () => {
    const { json } = await post(
      `${nodeUrl}/mcp`,
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"scale","arguments":{"replicas":1e400}}}',
    );
    expect((json as RpcAnswer).error?.code).toBe(-32002);
    expect(ran).toEqual([]);
  });

  it('-0 is passed through unchanged and decided once', async () => {
    const { json } = await post(
      `${nodeUrl}/mcp`,
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"scale","arguments":{"replicas":-0}}}',
    );
    expect((json as RpcAnswer).result?.content?.[0].text).toBe('scale:0');
    expect(Object.is(ran[0]?.args.replicas, -0)).toBe(true);
    expect(toolCalls).toEqual([]);
  });

  it('a date string coerced to a Date is decided again', async () => {
    const answer = await callTool('schedule', { when: '2030-01-01T00:00:00Z' });
    expect(answer.result?.content).toBeDefined();
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0].arguments.when).toBeInstanceOf(Date);
  });

  it('a viewer: " qa" is allowed at the guard, "qa" is refused by the tool decide', async () => {
    const answer = await callTool('deploy_trim', { environment: ' qa' }, viewer);
    expect(answer.error?.code).toBe(-32002);
    expect(ran).toEqual([]);
  });
});

describe('a guard decide that fails', () => {
  it.each(['throws', 'rejects'] as const)('one that %s lets nothing run', async (mode) => {
    guardMode = mode;
    const { status } = await post(`${nodeUrl}/mcp`, callMsg('restart', {}));
    expect(status).toBeGreaterThanOrEqual(500);
    expect(ran).toEqual([]);
  });

  it.each(['emptyStepUp', 'unknownVerdict'] as const)(
    'a refusal the guard does not recognise (%s) gives no allowance: the tool decide refuses',
    async (mode) => {
      guardMode = mode;
      const { status, json } = await post(
        `${nodeUrl}/mcp`,
        callMsg('deploy', { service: 'api', environment: 'production' }),
      );
      expect(ranWith('production')).toEqual([]);
      expect(status !== 200 || (json as RpcAnswer).error?.code === -32002).toBe(true);
    },
  );
});

describe('behind Express', () => {
  it('the same call through express.json is decided once (control)', async () => {
    const answer = await callTool(
      'deploy',
      { service: 'api', environment: 'staging' },
      developer,
      `${expressUrl}/mcp`,
    );
    expect(answer.result?.content?.[0].text).toBe('deploy:staging');
    expect(toolCalls).toEqual([]);
  });

  it.each(['spread', 'assign', 'json'])(
    'an AuthInfo copied by the app (%s) carries no allowance',
    async (how) => {
      const answer = await callTool(
        'deploy',
        { service: 'api', environment: 'staging' },
        developer,
        `${expressUrl}/copy/${how}`,
      );
      expect(answer.result?.content?.[0].text).toBe('deploy:staging');
      expect(toolCalls).toHaveLength(1);
    },
  );

  it('a raw body (express.raw) is parsed and decided by the guard itself', async () => {
    const answer = await callTool(
      'deploy',
      { service: 'api', environment: 'production' },
      developer,
      `${expressUrl}/raw`,
    );
    expect(answer.error?.code).toBe(-32002);
    expect(ran).toEqual([]);
    expect(guardCalls).toEqual([
      { name: 'deploy', arguments: { service: 'api', environment: 'production' } },
    ]);
    // Refused at the edge: the MCP server never saw it.
    expect(toolCalls).toHaveLength(0);
  });

  it('an allowed raw body reaches the tool as the parsed call the guard allowed, decided once', async () => {
    const answer = await callTool(
      'deploy',
      { service: 'api', environment: 'staging' },
      developer,
      `${expressUrl}/raw`,
    );
    expect(answer.result?.content?.[0].text).toBe('deploy:staging');
    expect(guardCalls).toHaveLength(1);
    expect(toolCalls).toHaveLength(0);
  });

  it('app middleware that edits req.body after the guard does not edit what the guard allowed', async () => {
    // The guard allowed { service: 'api' }; the app then fills in environment "production" in
    // the very object the guard recorded, and the SDK passes it to the tool.
    const answer = await callTool(
      'deploy',
      { service: 'api' },
      developer,
      `${expressUrl}/defaults`,
    );
    expect(answer.error?.code).toBe(-32002);
    expect(ranWith('production')).toEqual([]);
  });
});

describe('a stateful session (SSE responses)', () => {
  async function open(): Promise<string> {
    const init = await fetch(`${sessionUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${developer}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'attacker', version: '1' },
        },
      }),
    });
    const id = init.headers.get('mcp-session-id')!;
    await init.text();
    const notified = await post(
      `${sessionUrl}/mcp`,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      developer,
      { 'mcp-session-id': id },
    );
    expect(notified.status).toBe(202);
    return id;
  }

  it("request A's allowance does not leak into request B naming the same session", async () => {
    const session = await open();
    const headers = { 'mcp-session-id': session };
    // A standalone SSE stream opened by the developer stays open throughout.
    const stream = new AbortController();
    const get = await fetch(`${sessionUrl}/mcp`, {
      headers: {
        authorization: `Bearer ${developer}`,
        accept: 'text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        ...headers,
      },
      signal: stream.signal,
    });
    expect(get.status).toBe(200);
    let release!: () => void;
    hold = { promise: new Promise<void>((resolve) => (release = resolve)), release };
    // A: the developer's "qa" deploy, allowed at the guard, held inside the tool.
    const a = post(
      `${sessionUrl}/mcp`,
      callMsg('deploy_trim', { environment: 'qa' }, 'a'),
      developer,
      headers,
    );
    for (let i = 0; i < 100 && ran.length === 0; i++) await sleep(10);
    expect(ran.map((r) => r.name)).toEqual(['deploy_trim:held']);
    // B: a viewer naming the developer's session is not let into it at all (sessions are bound
    // to who opened them), so nothing of A's can reach B's call.
    const b = await post(
      `${sessionUrl}/mcp`,
      callMsg('deploy_trim', { environment: ' qa' }, 'b'),
      viewer,
      headers,
    );
    expect(b.status).toBe(404);
    expect((b.json as RpcAnswer).error?.code).toBe(-32001);
    expect(toolCalls).toEqual([]);
    release();
    const answerA = await a;
    expect((answerA.json as RpcAnswer).result?.content?.[0].text).toBe('deploy_trim:qa');
    expect(ran.filter((r) => r.name === 'deploy_trim').map((r) => r.token)).toEqual([developer]);
    stream.abort();
  });

  it('a session call whose default fills in production is refused; an exact one runs once', async () => {
    const session = await open();
    const headers = { 'mcp-session-id': session };
    const allowed = await post(
      `${sessionUrl}/mcp`,
      callMsg('deploy', { service: 'api', environment: 'staging' }),
      developer,
      headers,
    );
    expect((allowed.json as RpcAnswer).result?.content?.[0].text).toBe('deploy:staging');
    expect(toolCalls).toEqual([]);
    const refused = await post(
      `${sessionUrl}/mcp`,
      callMsg('deploy', { service: 'api' }, 2),
      developer,
      headers,
    );
    expect((refused.json as RpcAnswer).error?.code).toBe(-32002);
    expect(ranWith('production')).toEqual([]);
  });
});
