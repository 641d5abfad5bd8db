import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.ts';
import {
  authorizationCode,
  connect,
  sdkProvider,
  startStack,
  toolJson,
  USERS,
  type Connected,
  type Stack,
} from './stack.ts';

/** Every response of a fetch, for looking at the challenges the SDK handled on its own. */
function recordingFetch() {
  const seen: Array<{ url: string; method: string; status: number; challenge: string | null }> = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    seen.push({
      url: String(input),
      method: init?.method ?? 'GET',
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
    });
    return response;
  };
  return { seen, fetchFn };
}

const scopeParam = (challenge: string) => /scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ') ?? [];

describe.each(databaseKinds())('example MCP server with the MCP SDK client (%s)', (kind) => {
  let stack: Stack;
  let dev: Connected;
  const provider = sdkProvider(USERS.developer, { justification: 'release 1.9.0 of billing' });
  const recorded = recordingFetch();

  beforeAll(async () => {
    stack = await startStack(kind);
    dev = await connect(stack.resource, provider, recorded.fetchFn);
  });
  afterAll(async () => {
    await dev?.client.close();
    await stack?.close();
  });

  it('serves its protected resource metadata and asks for base scopes only', async () => {
    const res = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', stack.resource));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      resource: stack.resource,
      authorization_servers: [stack.t.url],
      scopes_supported: ['mcp:tools:read', 'mcp:resources:read'],
      bearer_methods_supported: ['header'],
      resource_name: 'Example deployment tools',
      dpop_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    });
    const unauthenticated = await fetch(stack.resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toContain('resource_metadata=');
    // The SDK's first token carries the base scopes and nothing elevated.
    expect(String(decodeJwt(provider.saved!.access_token).scope).split(' ').sort()).toEqual([
      'mcp:resources:read',
      'mcp:tools:read',
    ]);
  });

  it('lists only the tools a developer could ever invoke, with their annotations', async () => {
    const { tools } = await dev.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'build_artifact',
      'check_service_health',
      'deploy_service',
      'get_service_metrics',
      'list_services',
      'run_tests',
    ]);
    const deploy = tools.find((tool) => tool.name === 'deploy_service')!;
    expect(deploy.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
    expect(deploy.inputSchema.properties).toHaveProperty('version');
    expect(tools.find((tool) => tool.name === 'get_service_metrics')!.outputSchema).toBeDefined();
  });

  it('runs read-only tools with the base scopes, including structured output', async () => {
    const list = await dev.client.callTool({ name: 'list_services', arguments: {} });
    expect(list.isError).toBeFalsy();
    expect(toolJson(list).services.map((s: { name: string }) => s.name)).toContain('billing');
    const metrics = await dev.client.callTool({
      name: 'get_service_metrics',
      arguments: { service: 'billing' },
    });
    expect(metrics.structuredContent).toMatchObject({ service: 'billing', windowMinutes: 15 });
    const health = await dev.client.callTool({
      name: 'check_service_health',
      arguments: { service: 'search', environment: 'production' },
    });
    expect(toolJson(health)).toMatchObject({ service: 'search', environment: 'production' });
  });

  it('challenges a staging deployment with 403 insufficient_scope, and the SDK steps up and retries', async () => {
    const call = {
      name: 'deploy_service',
      arguments: { service: 'billing', environment: 'staging', version: '1.9.0' },
    };
    // The SDK answers the 403 by re-authorizing with the challenged scope; the provider performs
    // the login and consent (with the justification) and the application completes the flow.
    await expect(dev.client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
    const challenge = recorded.seen.find((r) => r.url === stack.resource && r.status === 403);
    expect(challenge?.challenge).toContain('error="insufficient_scope"');
    expect(scopeParam(challenge!.challenge!).sort()).toEqual([
      'mcp:deploy:staging',
      'mcp:resources:read',
      'mcp:tools:read',
    ]);
    await dev.transport.finishAuth(authorizationCode(provider));

    const deployed = await dev.client.callTool(call);
    expect(deployed.isError).toBeFalsy();
    expect(toolJson(deployed)).toMatchObject({
      changed: true,
      deployment: { service: 'billing', environment: 'staging', version: '1.9.0' },
    });
    const claims = decodeJwt(provider.saved!.access_token);
    expect(String(claims.scope).split(' ')).toEqual(
      expect.arrayContaining(['mcp:deploy:staging', 'mcp:tools:read', 'mcp:resources:read']),
    );
    expect(claims.elevation).toEqual(expect.any(String));
  });

  it('refuses a production deployment by a developer with JSON-RPC -32002 naming senior_developer', async () => {
    const call = {
      name: 'deploy_service',
      arguments: { service: 'billing', environment: 'production', version: '1.9.0' },
    };
    const error = await dev.client.callTool(call).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: -32002,
      data: { requiredRole: 'senior_developer', retryable: false },
    });
    expect((error as { data: { suggestedAction: string } }).data.suggestedAction).toContain(
      'senior_developer',
    );
  });

  it('validates arguments: a version that is not semver is refused by the tool schema', async () => {
    const result = await dev.client.callTool({
      name: 'deploy_service',
      arguments: { service: 'billing', environment: 'staging', version: 'latest' },
    });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/semantic version/);
  });

  it('exposes the tool metrics on /metrics after these calls', async () => {
    const res = await fetch(new URL('/metrics', stack.resource));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const sample = (name: string, labels: Record<string, string>) =>
      text
        .split('\n')
        .find(
          (line) =>
            line.startsWith(`${name}{`) &&
            Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)),
        );
    expect(
      sample('mcp_tool_requests_total', {
        tool: 'list_services',
        status: 'success',
        user_role: 'developer',
      }),
    ).toMatch(/ 1$/);
    expect(
      sample('mcp_tool_requests_total', {
        tool: 'deploy_service',
        status: 'success',
        user_role: 'developer',
      }),
    ).toMatch(/ 1$/);
    expect(
      sample('mcp_tool_requests_total', {
        tool: 'deploy_service',
        status: 'denied',
        user_role: 'developer',
      }),
    ).toBeDefined();
    expect(sample('mcp_tool_duration_seconds_count', { tool: 'get_service_metrics' })).toMatch(
      / 1$/,
    );
    expect(text).toMatch(/^mcp_active_requests 0$/m);
    expect(sample('mcp_auth_decisions_total', { decision: 'allow' })).toBeDefined();
    expect(sample('mcp_auth_decisions_total', { decision: 'step_up' })).toMatch(/ 1$/);
    expect(sample('mcp_auth_decisions_total', { decision: 'deny' })).toMatch(/ 1$/);
  });

  it('lets a dynamically registered MCP SDK client step up too (ARCHITECTURE.md §5)', async () => {
    // The SDK registers with the scopes of its first authorization (the base scopes); the
    // authorization server must still let that client ask for an elevated scope later.
    const dynamic = sdkProvider(USERS.developer, { dynamic: true });
    const connected = await connect(stack.resource, dynamic);
    try {
      const call = {
        name: 'deploy_service',
        arguments: { service: 'checkout', environment: 'staging', version: '2.0.0' },
      };
      await expect(connected.client.callTool(call)).rejects.toBeInstanceOf(UnauthorizedError);
      await connected.transport.finishAuth(authorizationCode(dynamic));
      expect((await connected.client.callTool(call)).isError).toBeFalsy();
    } finally {
      await connected.client.close();
    }
  });
});
