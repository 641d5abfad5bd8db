import { afterEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AuditEventInput } from '../../../src/verifier/observability/audit-event.ts';
import { protectMcpServer } from '../../../src/verifier/mcp/protect.ts';
import type { ToolCall, ToolCallDecision } from '../../../src/verifier/http/decide.ts';
import type { ProtectOptions } from '../../../src/verifier/mcp/types.ts';
import { BreakerRegistry } from '../../../src/verifier/resilience/breakers.ts';
import { UNAUTHORIZED } from '../../../src/verifier/resilience/errors.ts';
import { allowAll, authInfo, connect, rpcError } from './harness.ts';
import type { Connection } from './harness.ts';

const ok = (text = 'ok') => ({ content: [{ type: 'text' as const, text }] });
const rolesOf = (auth: AuthInfo): string[] => (auth.extra?.roles as string[] | undefined) ?? [];

let connection: Connection | undefined;
afterEach(async () => {
  await connection?.close();
  connection = undefined;
});

function deploymentServer(options: Partial<ProtectOptions> = {}) {
  const server = new McpServer({ name: 'deployments', version: '1.0.0' });
  const events: AuditEventInput[] = [];
  const guard = protectMcpServer(server, {
    decide: allowAll,
    // viewers see read-only tools; developers also see deploy_service
    visible: (auth, name) => name !== 'deploy_service' || rolesOf(auth).includes('developer'),
    audit: { record: (event) => events.push(event) },
    breakers: new BreakerRegistry(),
    ...options,
  });
  guard.registerTool('list_services', { annotations: { readOnlyHint: true } }, () =>
    ok('api, web'),
  );
  guard.registerTool(
    'deploy_service',
    {
      inputSchema: { service: z.string(), environment: z.string(), apiKey: z.string().optional() },
      annotations: { destructiveHint: true },
    },
    ({ service, environment }) => ok(`deployed ${service} to ${environment}`),
  );
  return { server, guard, events };
}

describe('tools/list', () => {
  it('two callers with different roles see different tool lists', async () => {
    const { server } = deploymentServer();
    connection = await connect(server, authInfo('vera', ['viewer']));
    const viewerTools = (await connection.client.listTools()).tools.map((t) => t.name);
    connection.as(authInfo('dave', ['developer']));
    const developerTools = (await connection.client.listTools()).tools.map((t) => t.name);

    expect(viewerTools).toEqual(['list_services']);
    expect(developerTools).toEqual(['list_services', 'deploy_service']);
  });

  it('keeps the SDK-built definitions (input schema, annotations) of the tools it shows', async () => {
    const { server } = deploymentServer();
    connection = await connect(server, authInfo('dave', ['developer']));
    const deploy = (await connection.client.listTools()).tools.find(
      (t) => t.name === 'deploy_service',
    );
    expect(deploy?.inputSchema.properties).toHaveProperty('environment');
    expect(deploy?.annotations).toEqual({ destructiveHint: true });
  });

  it('a request without authInfo sees no tools', async () => {
    const { server } = deploymentServer();
    connection = await connect(server, undefined);
    expect((await connection.client.listTools()).tools).toEqual([]);
  });

  it('a tool registered on the McpServer directly is neither listed nor callable', async () => {
    const { server } = deploymentServer();
    server.registerTool('backdoor', {}, () => ok('should not run'));
    connection = await connect(server, authInfo('dave', ['developer']));
    expect((await connection.client.listTools()).tools.map((t) => t.name)).not.toContain(
      'backdoor',
    );
    const error = await rpcError(connection.client.callTool({ name: 'backdoor', arguments: {} }));
    expect(error.code).toBe(ErrorCode.InvalidParams);
  });
});

describe('authorization of tool calls', () => {
  it('decide sees the caller and the parsed arguments; allow runs the tool', async () => {
    const seen: Array<[string | undefined, ToolCall]> = [];
    const { server } = deploymentServer({
      decide: (auth, call) => {
        seen.push([auth.extra?.subject as string, call]);
        return { decision: 'allow' };
      },
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    const result = await connection.client.callTool({
      name: 'deploy_service',
      arguments: { service: 'api', environment: 'staging' },
    });
    expect(result.content).toEqual(ok('deployed api to staging').content);
    expect(seen).toEqual([
      ['dave', { name: 'deploy_service', arguments: { service: 'api', environment: 'staging' } }],
    ]);
  });

  it('a denied call answers -32002 naming the role that would allow it, and the tool does not run', async () => {
    let ran = false;
    const server = new McpServer({ name: 'deny', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: (): ToolCallDecision => ({
        decision: 'deny',
        reason: 'role ceiling',
        requiredRole: 'senior_developer',
      }),
      visible: () => true,
      rateLimit: false,
    });
    guard.registerTool('rollback_deployment', {}, () => {
      ran = true;
      return ok();
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    const error = await rpcError(
      connection.client.callTool({ name: 'rollback_deployment', arguments: {} }),
    );
    expect(error.code).toBe(UNAUTHORIZED);
    expect(error.data).toEqual({
      retryable: false,
      suggestedAction: 'Requires role senior_developer',
    });
    expect(ran).toBe(false);
  });

  it('a step-up decision answers -32002 naming the scopes to request', async () => {
    const { server } = deploymentServer({
      decide: (): ToolCallDecision => ({ decision: 'step_up', scopes: ['deploy:production'] }),
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    const error = await rpcError(
      connection.client.callTool({
        name: 'deploy_service',
        arguments: { service: 'api', environment: 'production' },
      }),
    );
    expect(error.code).toBe(UNAUTHORIZED);
    expect((error.data as { suggestedAction: string }).suggestedAction).toContain(
      'deploy:production',
    );
  });

  it('a call without authInfo is refused without consulting decide', async () => {
    let consulted = false;
    const { server } = deploymentServer({
      decide: () => {
        consulted = true;
        return { decision: 'allow' };
      },
    });
    connection = await connect(server, undefined);
    const error = await rpcError(
      connection.client.callTool({ name: 'list_services', arguments: {} }),
    );
    expect(error.code).toBe(UNAUTHORIZED);
    expect(consulted).toBe(false);
  });

  it('a decide function that throws refuses the call (fail closed)', async () => {
    const { server } = deploymentServer({
      decide: () => {
        throw new Error('policy bundle not loaded');
      },
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    const error = await rpcError(
      connection.client.callTool({ name: 'list_services', arguments: {} }),
    );
    expect(error.code).toBe(UNAUTHORIZED);
    expect(error.message).not.toContain('policy bundle');
  });

  it('arguments failing the input schema are still answered by the SDK as a tool error result', async () => {
    const { server } = deploymentServer();
    connection = await connect(server, authInfo('dave', ['developer']));
    const result = await connection.client.callTool({
      name: 'deploy_service',
      arguments: { service: 42 },
    });
    expect(result.isError).toBe(true);
  });

  it('update({ callback }) keeps the new callback protected', async () => {
    const server = new McpServer({ name: 'update', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: (): ToolCallDecision => ({ decision: 'deny', reason: 'no' }),
      visible: () => true,
    });
    const tool = guard.registerTool('list_services', {}, () => ok('v1'));
    tool.update({ callback: () => ok('v2') });
    connection = await connect(server, authInfo('dave', ['developer']));
    expect(
      (await rpcError(connection.client.callTool({ name: 'list_services', arguments: {} }))).code,
    ).toBe(UNAUTHORIZED);
    expect(() => tool.update({ name: 'renamed' })).toThrow(TypeError);
  });

  it('a tool registered directly and renamed onto a protected name is neither listed nor run', async () => {
    let ran = 0;
    const server = new McpServer({ name: 'rename', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: (): ToolCallDecision => ({ decision: 'deny', reason: 'no' }),
      visible: () => true,
    });
    guard.registerTool('deploy_service', {}, () => ok('protected'));
    const direct = server.registerTool('helper', {}, () => {
      ran += 1;
      return ok('unprotected');
    });
    // The SDK replaces the protected tool of that name with the direct one.
    direct.update({ name: 'deploy_service' });
    connection = await connect(server, authInfo('dave', ['developer']));
    expect((await connection.client.listTools()).tools).toEqual([]);
    const refused = await rpcError(
      connection.client.callTool({ name: 'deploy_service', arguments: {} }),
    );
    expect(refused.code).toBe(ErrorCode.InvalidParams);
    expect(ran).toBe(0);
  });
});

describe('audit events of tool calls', () => {
  it('records success, denial and failure with redacted params, elevation and criticality', async () => {
    let allow = true;
    const { server, guard, events } = deploymentServer({
      decide: (): ToolCallDecision =>
        allow ? { decision: 'allow' } : { decision: 'deny', reason: 'no' },
    });
    guard.registerTool('run_tests', {}, () => {
      throw new Error('flaky');
    });
    connection = await connect(server, authInfo('dave', ['developer'], 'elev-1'));
    const args = { service: 'api', environment: 'staging', apiKey: 'sk-live-123' };
    await connection.client.callTool({ name: 'deploy_service', arguments: args });
    await rpcError(connection.client.callTool({ name: 'run_tests', arguments: {} }));
    allow = false;
    connection.as(authInfo('vera', ['viewer']));
    await rpcError(connection.client.callTool({ name: 'list_services', arguments: {} }));

    expect(events).toEqual([
      {
        subject: 'dave',
        clientId: 'agent-1',
        tool: 'deploy_service',
        params: { service: 'api', environment: 'staging', apiKey: '[REDACTED]' },
        result: 'success',
        elevation: 'elev-1',
        critical: true,
        decision: 'allow',
      },
      {
        subject: 'dave',
        clientId: 'agent-1',
        tool: 'run_tests',
        params: {},
        result: 'failure',
        elevation: 'elev-1',
        critical: true,
        decision: 'allow',
      },
      {
        subject: 'vera',
        clientId: 'agent-1',
        tool: 'list_services',
        params: {},
        result: 'denied',
        critical: false,
        decision: 'deny',
      },
    ]);
  });
});

describe('protectMcpServer', () => {
  it('works on a server that declared the tools capability up front', async () => {
    const server = new McpServer(
      { name: 'caps', version: '1.0.0' },
      { capabilities: { tools: {} } },
    );
    const guard = protectMcpServer(server, {
      decide: (): ToolCallDecision => ({ decision: 'deny', reason: 'no' }),
      visible: () => true,
    });
    guard.registerTool('list_services', {}, () => ok());
    connection = await connect(server, authInfo('dave', ['developer']));
    expect((await connection.client.listTools()).tools.map((t) => t.name)).toEqual([
      'list_services',
    ]);
    expect(
      (await rpcError(connection.client.callTool({ name: 'list_services', arguments: {} }))).code,
    ).toBe(UNAUTHORIZED);
  });

  it('refuses to protect the same server twice', () => {
    const server = new McpServer({ name: 'twice', version: '1.0.0' });
    protectMcpServer(server, { decide: allowAll, visible: () => true });
    expect(() => protectMcpServer(server, { decide: allowAll, visible: () => true })).toThrow(
      TypeError,
    );
  });
});
