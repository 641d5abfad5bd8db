import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecideToolCall, ToolCall } from '../../../src/verifier/http/decide.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import { postJsonRpc, send, startGuardedServer, type Started } from './fixtures.ts';

let issuer: TestIssuer;
let mcp: Started & { reached: () => number };
let resource: string;
let token: string;
const seen: ToolCall[] = [];
const errors: unknown[] = [];

/** A stand-in for the policy engine: one rule per tool name. */
const decide: DecideToolCall = async (auth, call) => {
  seen.push(call);
  if (call.name === 'explode') throw new Error('policy bundle corrupt: secret detail');
  if (call.name === 'rollback_deployment')
    return {
      decision: 'deny',
      reason: 'rollback_deployment needs a senior developer',
      requiredRole: 'senior_developer',
    };
  if (call.name === 'forbidden') return { decision: 'deny', reason: 'never allowed' };
  if (call.name === 'deploy_service') return { decision: 'step_up', scopes: ['deploy:prod'] };
  return auth.roles.includes('viewer')
    ? { decision: 'allow' }
    : { decision: 'deny', reason: 'no role' };
};

beforeAll(async () => {
  issuer = await startIssuer();
  mcp = await startGuardedServer((base) => ({
    verifier: createTokenVerifier({ issuer: issuer.issuer, resource: `${base}/mcp` }),
    baseScopes: ['mcp:read'],
    decide,
    bodyLimitBytes: 4096,
    onError: (error) => errors.push(error),
  }));
  resource = `${mcp.url}/mcp`;
  token = await signAccessToken(issuer, { aud: resource });
});
afterAll(async () => {
  await mcp.close();
  await issuer.close();
});
beforeEach(() => {
  seen.length = 0;
});

const call = (id: unknown, name: string, args: unknown = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('tool-call decisions before the MCP server runs', () => {
  it('answers a denied tools/call with JSON-RPC -32002 and the request id, never reaching the MCP handler', async () => {
    const before = mcp.reached();
    const reply = await postJsonRpc(
      resource,
      token,
      call('req-9', 'rollback_deployment', { service: 'api' }),
    );
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({
      jsonrpc: '2.0',
      id: 'req-9',
      error: {
        code: -32002,
        message: 'rollback_deployment needs a senior developer',
        data: {
          retryable: false,
          requiredRole: 'senior_developer',
          suggestedAction: 'ask an administrator for the "senior_developer" role',
        },
      },
    });
    expect(mcp.reached()).toBe(before);
    expect(seen).toEqual([{ name: 'rollback_deployment', arguments: { service: 'api' } }]);
  });

  it('refuses a whole batch that holds a denied call, answering each request in it', async () => {
    const before = mcp.reached();
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      call(2, 'forbidden'),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ];
    const reply = await postJsonRpc(resource, token, batch);
    expect(reply.status).toBe(200);
    const [other, denied] = reply.json();
    expect(reply.json()).toHaveLength(2);
    expect(other).toMatchObject({ id: 1, error: { code: -32002, data: { retryable: true } } });
    expect(denied).toMatchObject({
      id: 2,
      error: { code: -32002, message: 'never allowed', data: { retryable: false } },
    });
    expect(mcp.reached()).toBe(before);
  });

  it('answers a step-up with the 403 insufficient_scope challenge, never reaching the MCP handler', async () => {
    const before = mcp.reached();
    const reply = await postJsonRpc(
      resource,
      token,
      call(3, 'deploy_service', { environment: 'prod' }),
    );
    expect(reply.status).toBe(403);
    expect(reply.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:read deploy:prod", resource_metadata="${mcp.url}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(mcp.reached()).toBe(before);
  });

  it('steps up for a call inside a batch', async () => {
    const reply = await postJsonRpc(resource, token, [
      call(1, 'list_services'),
      call(2, 'deploy_service'),
    ]);
    expect(reply.status).toBe(403);
  });

  it('lets an allowed call through with the parsed body on req.body and the principal on req.auth', async () => {
    const before = mcp.reached();
    const message = call(4, 'list_services');
    const reply = await postJsonRpc(resource, token, message);
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({
      reached: true,
      body: message,
      auth: { clientId: 'agent-1', extra: { roles: ['viewer'] } },
    });
    expect(mcp.reached()).toBe(before + 1);
  });

  it('does not consult decide for messages other than tools/call', async () => {
    const reply = await postJsonRpc(resource, token, {
      jsonrpc: '2.0',
      id: 5,
      method: 'tools/list',
    });
    expect(reply.status).toBe(200);
    expect(seen).toEqual([]);
  });

  it('authenticates before reading the body: no token, no decision', async () => {
    const reply = await postJsonRpc(resource, undefined, call(6, 'rollback_deployment'));
    expect(reply.status).toBe(401);
    expect(seen).toEqual([]);
  });

  it('answers an oversized body with 413', async () => {
    const before = mcp.reached();
    const reply = await postJsonRpc(
      resource,
      token,
      call(7, 'list_services', { blob: 'x'.repeat(10_000) }),
    );
    expect(reply.status).toBe(413);
    expect(mcp.reached()).toBe(before);
  });

  it('answers an oversized body sent without Content-Length (chunked) with 413', async () => {
    const reply = await send(resource, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'Transfer-Encoding': 'chunked',
      },
      body: JSON.stringify(call(8, 'list_services', { blob: 'y'.repeat(10_000) })),
    });
    expect(reply.status).toBe(413);
  });

  it('answers invalid JSON with HTTP 400 and a JSON-RPC parse error', async () => {
    const reply = await postJsonRpc(resource, token, '{"jsonrpc": "2.0", "method": tools/call');
    expect(reply.status).toBe(400);
    expect(reply.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error' },
    });
  });

  it('answers a failing decide with a bare 500 and reports the error to onError', async () => {
    const reply = await postJsonRpc(resource, token, call(9, 'explode'));
    expect(reply.status).toBe(500);
    expect(reply.json()).toEqual({ error: 'server_error' });
    expect(reply.text).not.toContain('secret');
    expect(errors).toHaveLength(1);
  });
});
