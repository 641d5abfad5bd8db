import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import Koa from 'koa';
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { expressAuth } from '../../../src/verifier/http/express.ts';
import type { ResourceServerAuthOptions } from '../../../src/verifier/http/guard.ts';
import { koaAuth } from '../../../src/verifier/http/koa.ts';
import {
  metadataPath,
  metadataUrl,
  protectedResourceMetadata,
} from '../../../src/verifier/http/metadata.ts';
import type { AuthenticatedRequest } from '../../../src/verifier/http/node.ts';
import { createTokenVerifier } from '../../../src/verifier/token/verifier.ts';
import { signAccessToken, startIssuer, type TestIssuer } from '../token/fixtures.ts';
import {
  DEFAULT_DPOP_ALGS,
  listen,
  postJsonRpc,
  send,
  startGuardedServer,
  type Started,
} from './fixtures.ts';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(async () => {
  await issuer.close();
});

function authOptions(base: string): ResourceServerAuthOptions {
  return {
    verifier: createTokenVerifier({ issuer: issuer.issuer, resource: `${base}/mcp` }),
    metadata: {
      scopesSupported: ['mcp:read', 'mcp:tools', 'deploy:prod', 'offline_access'],
      resourceName: 'Deploy tools',
    },
  };
}

/** Starts an Express or Koa app whose options depend on its own URL. */
async function startApp(build: (base: string) => (req: any, res: any) => void): Promise<Started> {
  const holder: { handler?: (req: any, res: any) => void } = {};
  const started = await listen(createServer((req, res) => holder.handler!(req, res)));
  holder.handler = build(started.url);
  return started;
}

function expressApp(base: string) {
  const app = express();
  app.use(express.json());
  app.use(expressAuth(authOptions(base)));
  app.post('/mcp', (req, res) => {
    res.json({ auth: (req as unknown as AuthenticatedRequest).auth, body: req.body });
  });
  return app;
}

function koaApp(base: string) {
  const app = new Koa();
  app.use(koaAuth(authOptions(base)));
  app.use((ctx) => {
    ctx.body = {
      auth: ctx.state.auth,
      reqAuth: (ctx.req as AuthenticatedRequest).auth === ctx.state.auth,
    };
  });
  return app.callback();
}

describe('Protected Resource Metadata (RFC 9728)', () => {
  it('places the document between host and resource path, like the MCP SDK', () => {
    expect(metadataPath('https://h.example/mcp')).toBe('/.well-known/oauth-protected-resource/mcp');
    expect(metadataPath('https://h.example/')).toBe('/.well-known/oauth-protected-resource');
    expect(metadataPath('https://h.example')).toBe('/.well-known/oauth-protected-resource');
    for (const resource of [
      'https://h.example/mcp',
      'https://h.example/',
      'https://h.example/a/b',
    ]) {
      expect(metadataUrl(resource)).toBe(getOAuthProtectedResourceMetadataUrl(new URL(resource)));
    }
  });

  it('never advertises offline_access (ARCHITECTURE.md §5)', () => {
    const document = protectedResourceMetadata({
      resource: 'https://h/mcp',
      authorizationServers: ['https://as'],
      scopesSupported: ['a', 'offline_access'],
    });
    expect(document).toEqual({
      resource: 'https://h/mcp',
      authorization_servers: ['https://as'],
      scopes_supported: ['a'],
      bearer_methods_supported: ['header'],
    });
  });

  const expected = (base: string) => ({
    resource: `${base}/mcp`,
    authorization_servers: [issuer.issuer],
    scopes_supported: ['mcp:read', 'mcp:tools', 'deploy:prod'],
    bearer_methods_supported: ['header'],
    resource_name: 'Deploy tools',
    dpop_signing_alg_values_supported: DEFAULT_DPOP_ALGS.split(' '),
  });

  it('is served by the node:http adapter at its path, without a token', async () => {
    const server = await startGuardedServer(authOptions);
    try {
      const reply = await send(`${server.url}/.well-known/oauth-protected-resource/mcp`);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['access-control-allow-origin']).toBe('*');
      expect(reply.json()).toEqual(expected(server.url));
      expect(server.reached()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('is served by the Express adapter at its path', async () => {
    const server = await startApp(expressApp);
    try {
      const reply = await send(`${server.url}/.well-known/oauth-protected-resource/mcp`);
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual(expected(server.url));
    } finally {
      await server.close();
    }
  });

  it('is served by the Koa adapter at its path', async () => {
    const server = await startApp(koaApp);
    try {
      const reply = await send(`${server.url}/.well-known/oauth-protected-resource/mcp`);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.json()).toEqual(expected(server.url));
    } finally {
      await server.close();
    }
  });
});

describe('framework adapters', () => {
  it('Express: passes an authenticated request on with req.auth and the parsed body', async () => {
    const server = await startApp(expressApp);
    try {
      const token = await signAccessToken(issuer, { aud: `${server.url}/mcp` });
      const message = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
      const reply = await postJsonRpc(`${server.url}/mcp`, token, message);
      expect(reply.status).toBe(200);
      expect(reply.json()).toMatchObject({
        auth: { token, clientId: 'agent-1', scopes: ['mcp:read', 'mcp:tools'] },
        body: message,
      });
    } finally {
      await server.close();
    }
  });

  it('Express: challenges a request without a token', async () => {
    const server = await startApp(expressApp);
    try {
      const reply = await postJsonRpc(`${server.url}/mcp`, undefined, {});
      expect(reply.status).toBe(401);
      const metadata = `${server.url}/.well-known/oauth-protected-resource/mcp`;
      expect(reply.headers['www-authenticate']).toBe(
        `Bearer resource_metadata="${metadata}", DPoP algs="${DEFAULT_DPOP_ALGS}", resource_metadata="${metadata}"`,
      );
    } finally {
      await server.close();
    }
  });

  it('Koa: sets ctx.state.auth and ctx.req.auth for an authenticated request', async () => {
    const server = await startApp(koaApp);
    try {
      const token = await signAccessToken(issuer, {
        aud: `${server.url}/mcp`,
        roles: ['developer'],
      });
      const reply = await send(`${server.url}/mcp`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(reply.status).toBe(200);
      expect(reply.json()).toMatchObject({
        auth: { clientId: 'agent-1', extra: { roles: ['developer'] } },
        reqAuth: true,
      });
    } finally {
      await server.close();
    }
  });

  it('Koa: challenges a bad token with 401 invalid_token', async () => {
    const server = await startApp(koaApp);
    try {
      const reply = await send(`${server.url}/mcp`, {
        headers: { Authorization: 'Bearer not-a-jwt' },
      });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
      expect(reply.json().error).toBe('invalid_token');
    } finally {
      await server.close();
    }
  });
});
