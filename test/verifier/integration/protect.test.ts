import { createServer } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpProtection, type McpProtection } from '../../../src/verifier/index.ts';
import { listen, type Started } from '../http/fixtures.ts';
import { RESOURCE, startFakeIssuer, type FakeIssuer } from './fake-issuer.ts';

let fake: FakeIssuer;
let protection: McpProtection;

async function token(claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({
    client_id: 'agent',
    scope: 'mcp:tools:read',
    roles: ['developer', 'viewer'],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: fake.key.kid, typ: 'at+jwt' })
    .setIssuer(fake.issuer)
    .setAudience(RESOURCE)
    .setSubject('dev-1')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(fake.key.privateKey);
}

const toolCall = (name: string, args: Record<string, unknown>) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name, arguments: args },
  });

async function post(url: string, bearer: string, body: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body,
  });
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: (await res.json()) as any,
  };
}

/** The three framework variants, each answering "reached" once the guard let a request through. */
const variants: Array<[string, () => Promise<Started>]> = [
  [
    'node:http',
    () =>
      listen(
        createServer(async (req, res) => {
          if ((await protection.guard(req, res)) === undefined) return;
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"reached":true}');
        }),
      ),
  ],
  [
    'Express',
    () => {
      const app = express();
      app.use(protection.expressGuard);
      app.post('/mcp', (_req, res) => void res.json({ reached: true }));
      return listen(createServer(app));
    },
  ],
  [
    'Koa',
    () => {
      const app = new Koa();
      app.use(protection.koaGuard);
      app.use((ctx) => {
        ctx.body = { reached: true };
      });
      return listen(createServer(app.callback()));
    },
  ],
];

beforeAll(async () => {
  fake = await startFakeIssuer();
  protection = await createMcpProtection({
    issuer: fake.issuer,
    resource: RESOURCE,
    policy: { revocationPollMs: 10_000 },
  });
});
afterAll(async () => {
  await protection?.close();
  await fake?.close();
});

describe('createMcpProtection', () => {
  it('publishes metadata that asks for the base scopes of the policy only', () => {
    expect(protection.metadata).toEqual({
      resource: RESOURCE,
      authorization_servers: [fake.issuer],
      scopes_supported: ['mcp:tools:read'],
      bearer_methods_supported: ['header'],
      resource_name: 'Deploy tools',
      dpop_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    });
    expect(protection.metadataUrl).toBe(
      'http://localhost:4000/.well-known/oauth-protected-resource/mcp',
    );
  });

  describe.each(variants)('with the %s guard', (name, start) => {
    let server: Started;
    beforeAll(async () => {
      server = await start();
    });
    afterAll(() => server?.close());

    it('lets an allowed call through', async () => {
      expect(
        await post(`${server.url}/mcp`, await token(), toolCall('list_services', {})),
      ).toMatchObject({ status: 200, body: { reached: true } });
    });

    it('challenges a step-up with the base scopes plus the one scope needed', async () => {
      const reply = await post(
        `${server.url}/mcp`,
        await token(),
        toolCall('deploy_service', { environment: 'staging' }),
      );
      expect(reply.status).toBe(403);
      expect(reply.challenge).toContain(
        'error="insufficient_scope", scope="mcp:tools:read mcp:deploy:staging"',
      );
    });

    it('answers a denied call with JSON-RPC -32002 naming the role', async () => {
      const reply = await post(
        `${server.url}/mcp`,
        await token(),
        toolCall('deploy_service', { environment: 'production' }),
      );
      expect(reply).toMatchObject({
        status: 200,
        body: { id: 7, error: { code: -32002, data: { requiredRole: 'senior_developer' } } },
      });
    });

    it('refuses a token whose elevation was revoked', async () => {
      const elevated = await token({
        scope: 'mcp:tools:read mcp:deploy:staging',
        elevation: `el-${name}`,
      });
      expect(
        (
          await post(
            `${server.url}/mcp`,
            elevated,
            toolCall('deploy_service', { environment: 'staging' }),
          )
        ).status,
      ).toBe(200);
      fake.state.revocations.push({
        elevation: `el-${name}`,
        revokedAt: Math.floor(Date.now() / 1000),
        seq: fake.state.revocations.length + 1,
      });
      await protection.policy.syncRevocations();
      const reply = await post(`${server.url}/mcp`, elevated, toolCall('list_services', {}));
      expect(reply.status).toBe(401);
      expect(reply.challenge).toContain('elevation revoked');
    });
  });

  it('counts refusals made at the HTTP edge in the tool metrics', async () => {
    const text = await protection.metricsRegistry.metrics();
    expect(text).toMatch(/^mcp_auth_decisions_total\{decision="step_up"\} 3$/m);
    expect(text).toMatch(/^mcp_auth_decisions_total\{decision="deny"\} 3$/m);
    expect(text).toMatch(
      /^mcp_tool_requests_total\{tool="deploy_service",status="denied",user_role="developer"\} 6$/m,
    );
  });
});
