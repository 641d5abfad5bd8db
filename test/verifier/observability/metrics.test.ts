import { afterEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Registry } from 'prom-client';
import { createToolMetrics } from '../../../src/verifier/observability/metrics.ts';
import { protectMcpServer } from '../../../src/verifier/mcp/protect.ts';
import type { ToolCallDecision } from '../../../src/verifier/http/decide.ts';
import { BreakerRegistry } from '../../../src/verifier/resilience/breakers.ts';
import { authInfo, connect, rpcError } from '../mcp/harness.ts';
import type { Connection } from '../mcp/harness.ts';

let connection: Connection | undefined;
afterEach(async () => {
  await connection?.close();
  connection = undefined;
});

describe('tool metrics', () => {
  it('after calls, the registry exposes the four families with the documented labels', async () => {
    const registry = new Registry();
    const server = new McpServer({ name: 'metrics', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: (_auth, call): ToolCallDecision =>
        call.name === 'deploy_service' ? { decision: 'deny', reason: 'no' } : { decision: 'allow' },
      visible: () => true,
      metrics: createToolMetrics({ registry }),
      breakers: new BreakerRegistry(),
    });
    guard.registerTool('list_services', {}, () => ({ content: [{ type: 'text', text: 'ok' }] }));
    guard.registerTool('deploy_service', {}, () => ({ content: [{ type: 'text', text: 'ok' }] }));
    connection = await connect(server, authInfo('dave', ['developer', 'viewer']));
    await connection.client.callTool({ name: 'list_services', arguments: {} });
    await rpcError(connection.client.callTool({ name: 'deploy_service', arguments: {} }));

    const text = await registry.metrics();
    expect(text).toContain(
      'mcp_tool_requests_total{tool="list_services",status="success",user_role="developer"} 1',
    );
    expect(text).toContain(
      'mcp_tool_requests_total{tool="deploy_service",status="denied",user_role="developer"} 1',
    );
    expect(text).toMatch(/mcp_tool_duration_seconds_count\{tool="list_services"\} 1/);
    expect(text).toMatch(/mcp_tool_duration_seconds_bucket\{le="[^"]+",tool="list_services"\}/);
    expect(text).toContain('mcp_active_requests 0');
    expect(text).toContain('mcp_auth_decisions_total{decision="allow"} 1');
    expect(text).toContain('mcp_auth_decisions_total{decision="deny"} 1');
  });

  it('counts a call in flight in mcp_active_requests', async () => {
    const metrics = createToolMetrics();
    const server = new McpServer({ name: 'active', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: () => ({ decision: 'allow' }),
      visible: () => true,
      metrics,
    });
    let release!: () => void;
    const running = new Promise<void>((resolve) => {
      guard.registerTool('slow', {}, async () => {
        resolve();
        await new Promise<void>((r) => (release = r));
        return { content: [] };
      });
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    const call = connection.client.callTool({ name: 'slow', arguments: {} });
    await running;
    expect((await metrics.activeRequests.get()).values[0].value).toBe(1);
    release();
    await call;
    expect((await metrics.activeRequests.get()).values[0].value).toBe(0);
  });

  it('creating the metrics twice on one registry reuses them instead of throwing', () => {
    const registry = new Registry();
    const first = createToolMetrics({ registry });
    const second = createToolMetrics({ registry });
    expect(second.toolRequests).toBe(first.toolRequests);
    expect(registry.getMetricsAsArray()).toHaveLength(4);
  });
});
