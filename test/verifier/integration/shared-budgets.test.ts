import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, McpError } from '@modelcontextprotocol/sdk/types.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMcpProtection,
  RATE_LIMITED,
  type McpProtection,
  type RateLimitStore,
} from '../../../src/verifier/index.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RespClient } from '../resilience/resp-client.ts';
import { RESOURCE, startFakeIssuer, type FakeIssuer } from './fake-issuer.ts';

let fake: FakeIssuer;
const cleanup: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  fake = await startFakeIssuer();
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await fake?.close();
});

async function token(subject = 'dev-1', claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({
    client_id: 'agent',
    scope: 'mcp:tools:read',
    roles: ['developer'],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: fake.key.kid, typ: 'at+jwt' })
    .setIssuer(fake.issuer)
    .setAudience(RESOURCE)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(fake.key.privateKey);
}

/** A protection with a small budget, served statefully over HTTP (one McpServer per session). */
async function protectedServer(store?: RateLimitStore): Promise<Started> {
  const protection: McpProtection = await createMcpProtection({
    issuer: fake.issuer,
    resource: RESOURCE,
    policy: { revocationPollMs: 10_000 },
    tools: { rateLimit: { points: 3, durationSec: 60 } },
    ...(store !== undefined && { rateLimitStore: store }),
  });
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const started = await listen(
    createServer(async (req, res) => {
      if ((await protection.guard(req, res)) === undefined) return;
      const body = (req as { body?: unknown }).body;
      const id = req.headers['mcp-session-id'];
      const known = typeof id === 'string' ? sessions.get(id) : undefined;
      if (known !== undefined) return known.handleRequest(req, res, body);
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        res.writeHead(400).end();
        return;
      }
      const server = new McpServer({ name: 'budgets', version: '1.0.0' });
      protection
        .protectMcpServer(server)
        .registerTool('list_services', { annotations: { readOnlyHint: true } }, () => ({
          content: [{ type: 'text', text: 'api, web' }],
        }));
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    }),
  );
  cleanup.push(
    () => protection.close(),
    () => started.close(),
  );
  return started;
}

/** A new MCP session (`initialize`) with the MCP SDK client, authenticated by `bearer`. */
async function session(server: Started, bearer: string): Promise<Client> {
  const client = new Client({ name: 'budget-client', version: '1.0.0' });
  const headers = { authorization: `Bearer ${bearer}` };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } }),
  );
  cleanup.push(() => client.close());
  return client;
}

/** Calls list_services; resolves the JSON-RPC error code and data, or `ok`. */
async function call(client: Client): Promise<'ok' | { code: number; data: unknown }> {
  try {
    const result = await client.callTool({ name: 'list_services', arguments: {} });
    return result.isError === true ? { code: 0, data: result } : 'ok';
  } catch (error) {
    if (error instanceof McpError) return { code: error.code, data: error.data };
    throw error;
  }
}

describe('rate limits per principal and tool, across MCP sessions', () => {
  it('five sessions opened with one token share one budget', async () => {
    const server = await protectedServer();
    const bearer = await token();
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await call(await session(server, bearer)));

    expect(outcomes.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    for (const refused of outcomes.slice(3)) {
      expect(refused).toMatchObject({ code: RATE_LIMITED, data: { retryable: true } });
      const { retryAfterMs } = (refused as { data: { retryAfterMs: number } }).data;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(60_000);
    }
  });

  it('another user of the same agent has a budget of their own', async () => {
    const server = await protectedServer();
    const spent = await session(server, await token('dev-1'));
    for (let i = 0; i < 3; i++) await call(spent);
    expect(await call(spent)).toMatchObject({ code: RATE_LIMITED });
    expect(await call(await session(server, await token('dev-2')))).toBe('ok');
  });
});

describe('two instances sharing a Redis', () => {
  const keyPrefix = `mcp-elevate-test-${randomUUID()}`;
  let admin: RespClient;

  beforeAll(async () => {
    admin = await RespClient.open();
  });
  afterAll(async () => {
    await admin.deletePrefix(keyPrefix);
    admin.close();
  });

  /** Each instance with its own connection, as two replicas would have. */
  async function replica(prefix: string): Promise<Started> {
    const client = await RespClient.open();
    cleanup.push(() => client.close());
    return protectedServer({ type: 'redis', client, keyPrefix: prefix });
  }

  it('share one budget per principal and tool', async () => {
    const prefix = `${keyPrefix}:budget`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const bearer = await token();
    const [onA, onB] = [await session(a, bearer), await session(b, bearer)];

    expect([await call(onA), await call(onB), await call(onA)]).toEqual(['ok', 'ok', 'ok']);
    expect(await call(onB)).toMatchObject({ code: RATE_LIMITED, data: { retryable: true } });
    expect(await call(onA)).toMatchObject({ code: RATE_LIMITED });
    // The window lives in Redis with an expiry: nothing stays behind for good.
    const keys = (await admin.sendCommand(['KEYS', `${prefix}:*`])) as string[];
    expect(keys.length).toBe(1);
    expect(await admin.sendCommand(['PTTL', keys[0]])).toBeGreaterThan(0);
  });

  it('refuse a DPoP proof replayed against the other instance', async () => {
    const prefix = `${keyPrefix}:dpop`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const bound = await token('dev-1', { cnf: { jkt: await calculateJwkThumbprint(jwk) } });
    const proof = () =>
      new SignJWT({
        htm: 'POST',
        htu: RESOURCE,
        ath: createHash('sha256').update(bound).digest('base64url'),
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey);
    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'dpop', version: '1' },
      },
    });
    const post = (server: Started, dpop: string) =>
      fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `DPoP ${bound}`,
          dpop,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: initialize,
      });

    const once = await proof();
    expect((await post(a, once)).status).toBe(200);
    const replayed = await post(b, once);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(
      /^DPoP error="invalid_dpop_proof", error_description="invalid DPoP proof: replayed", algs="/,
    );
    expect((await post(b, await proof())).status).toBe(200);
  });
});
