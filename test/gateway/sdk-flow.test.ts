import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt, jwtVerify } from 'jose';
import type { Attributes, Span, SpanOptions } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRINCIPAL_JWT_TYPE } from '../../src/gateway/index.ts';
import { databaseKinds } from '../helpers/databases.ts';
import {
  authorizationCode,
  connect,
  sdkProvider,
  USERS,
  waitFor,
  type Connected,
} from '../example/stack.ts';
import { PRINCIPAL_SECRET, startGatewayStack, type GatewayStack } from './stack.ts';

const SENIOR = {
  email: 'senior@example.com',
  password: 'senior password',
  roles: ['senior_developer'],
};
const LEAD = {
  email: 'lead@example.com',
  password: 'lead password',
  roles: ['viewer'],
  groups: ['tech-lead'],
};

/** A tracer that records span names and attributes; no OpenTelemetry SDK is installed here. */
function recordingTracer() {
  const spans: Array<{ name: string; attributes: Attributes; ended: boolean }> = [];
  const tracer = {
    startSpan(name: string, options?: SpanOptions): Span {
      const record = { name, attributes: { ...options?.attributes }, ended: false };
      spans.push(record);
      const span: Record<string, unknown> = {
        spanContext: () => ({ traceId: '0'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
        setAttribute: (key: string, value: unknown) => {
          record.attributes[key] = value as never;
          return span;
        },
        setAttributes: (attributes: Attributes) => {
          Object.assign(record.attributes, attributes);
          return span;
        },
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: () => span,
        updateName: () => span,
        isRecording: () => true,
        recordException: () => undefined,
        end: () => void (record.ended = true),
      };
      return span as unknown as Span;
    },
  };
  return { tracer, spans };
}

const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;

describe.each(databaseKinds())(
  'the MCP SDK client through the gateway (%s)',
  { timeout: 90_000 },
  (kind) => {
    let stack: GatewayStack;
    let dev: Connected;
    const provider = sdkProvider(USERS.developer, { justification: 'release 2.0.0 of search' });
    const traced = recordingTracer();

    beforeAll(async () => {
      stack = await startGatewayStack(kind, { route: { tracer: traced.tracer } });
      await stack.t.server.users.create(SENIOR);
      await stack.t.server.users.create(LEAD);
      dev = await connect(stack.sse, provider);
    }, 400_000);
    afterAll(async () => {
      await dev?.client.close();
      await stack?.close();
    });

    it('publishes protected resource metadata for each public URL and challenges requests without a token', async () => {
      for (const resource of [stack.sse, stack.json]) {
        const url = new URL(
          `/.well-known/oauth-protected-resource${new URL(resource).pathname}`,
          resource,
        );
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({
          resource,
          authorization_servers: [stack.t.url],
          scopes_supported: ['mcp:tools:read', 'mcp:resources:read'],
        });
        const refused = await fetch(resource, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(refused.status).toBe(401);
        // Bearer first (what the MCP SDK reads), DPoP offered beside it (RFC 9449 §7.1).
        expect(refused.headers.get('www-authenticate')).toMatch(
          new RegExp(
            `^Bearer resource_metadata="${url.href}", DPoP algs="[^"]+", resource_metadata=`,
          ),
        );
      }
    });

    it('lists only the upstream tools the caller could ever invoke', async () => {
      const { tools } = await dev.client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        'deploy_service',
        'get_blob',
        'get_failure',
        'get_progress',
        'get_slow',
        'list_services',
      ]);
      const viewer = await connect(stack.json, sdkProvider(USERS.viewer));
      try {
        const shown = await viewer.client.listTools();
        expect(shown.tools.map((tool) => tool.name).sort()).toEqual([
          'get_blob',
          'get_failure',
          'get_progress',
          'get_slow',
          'list_services',
        ]);
      } finally {
        await viewer.client.close();
      }
    });

    it("calls an allowed tool, and the upstream never sees the caller's token, only a signed principal", async () => {
      const before = stack.stateful.seen.length;
      const result = await dev.client.callTool({ name: 'list_services', arguments: {} });
      expect(text(result)).toBe('billing, search');
      const seen = stack.stateful.seen.slice(before);
      expect(seen.length).toBeGreaterThan(0);
      for (const request of stack.stateful.seen) {
        expect(request.headers.authorization).toBeUndefined();
        expect(request.headers.dpop).toBeUndefined();
      }
      const call = seen.find(
        (r) => (r.body as { method?: string } | undefined)?.method === 'tools/call',
      )!;
      const { payload, protectedHeader } = await jwtVerify(
        String(call.headers['mcp-elevate-principal']),
        new TextEncoder().encode(PRINCIPAL_SECRET),
        {
          issuer: stack.sse,
          audience: stack.stateful.url,
          typ: PRINCIPAL_JWT_TYPE,
        },
      );
      expect(protectedHeader.alg).toBe('HS256');
      const token = decodeJwt(provider.saved!.access_token);
      expect(payload).toMatchObject({
        sub: token.sub,
        client_id: token.client_id,
        roles: token.roles,
        scope: token.scope,
      });
      expect(payload.exp! - payload.iat!).toBe(60);
    });

    it('steps up through a 403 challenge of the gateway, then the call reaches the upstream', async () => {
      const call = {
        name: 'deploy_service',
        arguments: { service: 'search', environment: 'staging', version: '2.0.0' },
      };
      await expect(dev.client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
      await dev.transport.finishAuth(authorizationCode(provider));
      const deployed = await dev.client.callTool(call);
      expect(text(deployed)).toBe('deployed search 2.0.0 to staging');
      expect(String(decodeJwt(provider.saved!.access_token).scope).split(' ')).toContain(
        'mcp:deploy:staging',
      );
    });

    it('refuses a production deployment by a developer with -32002 before the upstream sees it', async () => {
      const before = stack.stateful.seen.length;
      const call = {
        name: 'deploy_service',
        arguments: { service: 'search', environment: 'production', version: '2.0.0' },
      };
      const error = await dev.client.callTool(call).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: -32002,
        data: { requiredRole: 'senior_developer', retryable: false },
      });
      expect(
        stack.stateful.seen
          .slice(before)
          .some((r) => JSON.stringify(r.body ?? '').includes('production')),
      ).toBe(false);
    });

    it('holds an approval-gated step-up until an approver decides, then the call goes through (stateless upstream)', async () => {
      const senior = sdkProvider(SENIOR, { justification: 'INC-9 hotfix' });
      const connected = await connect(stack.json, senior);
      try {
        const call = {
          name: 'deploy_service',
          arguments: { service: 'billing', environment: 'production', version: '9.9.9' },
        };
        const pending = connected.client.callTool(call).then(
          () => undefined,
          (e: unknown) => e,
        );
        const db = stack.t.server.db.db;
        const ticket = () =>
          db
            .selectFrom('elevation_ticket')
            .selectAll()
            .where('status', '=', 'pending')
            .executeTakeFirst();
        expect(await waitFor(async () => (await ticket()) !== undefined, 20_000)).toBe(true);
        const lead = (await stack.t.server.users.findCredentials(LEAD.email))!;
        await stack.t.server.elevation.decide((await ticket())!.id, lead.id, 'approve');
        expect(await pending).toBeInstanceOf(UnauthorizedError);
        await connected.transport.finishAuth(authorizationCode(senior));
        expect(text(await connected.client.callTool(call))).toBe(
          'deployed billing 9.9.9 to production',
        );
      } finally {
        await connected.client.close();
      }
    });

    it('traces each call as a span tool:<name> with the caller and redacted arguments', async () => {
      await dev.client.callTool({
        name: 'get_blob',
        arguments: { bytes: 2, apiToken: 'very-secret-value' },
      });
      const span = traced.spans.findLast((s) => s.name === 'tool:get_blob')!;
      expect(span.ended).toBe(true);
      expect(span.attributes).toMatchObject({
        'mcp.tool.name': 'get_blob',
        'mcp.user.id': decodeJwt(provider.saved!.access_token).sub,
        'mcp.user.role': 'developer',
      });
      expect(String(span.attributes['mcp.tool.params'])).not.toContain('very-secret-value');
      expect(JSON.parse(String(span.attributes['mcp.tool.params']))).toMatchObject({ bytes: 2 });
    });

    it('records metrics and audit events of calls through the gateway', async () => {
      const metrics = await (await fetch(new URL('/metrics', stack.sse))).text();
      expect(metrics).toMatch(
        /mcp_tool_requests_total\{tool="list_services",status="success",user_role="developer"\} 1/,
      );
      expect(metrics).toMatch(
        /mcp_tool_requests_total\{tool="deploy_service",status="denied",user_role="developer"\} \d/,
      );
      expect(metrics).toMatch(/mcp_auth_decisions_total\{decision="step_up"\} \d/);
      for (const route of stack.gateway.routes) await route.protection.audit!.flush();
      const db = stack.t.server.db.db;
      const events = await db
        .selectFrom('audit_event')
        .selectAll()
        .where('client_id', '=', 'mcp-sdk-client')
        .execute();
      const described = events.map((e) => `${JSON.stringify(e.data)} ${e.result}`);
      expect(described.some((d) => d.includes('deploy_service') && d.includes('success'))).toBe(
        true,
      );
      expect(described.some((d) => d.includes('deploy_service') && d.includes('denied'))).toBe(
        true,
      );
      // Each route reports as the MCP server of its own resource, so both are in the trail.
      const resources = new Set(events.map((e) => e.resource));
      expect(resources).toEqual(new Set([stack.sse, stack.json]));
    });
  },
);
