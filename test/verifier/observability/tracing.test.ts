import { afterEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Span, SpanOptions, SpanStatus, Tracer } from '@opentelemetry/api';
import { z } from 'zod';
import { protectMcpServer } from '../../../src/verifier/mcp/protect.ts';
import { traceToolCall } from '../../../src/verifier/observability/tracing.ts';
import { BreakerRegistry } from '../../../src/verifier/resilience/breakers.ts';
import { allowAll, authInfo, connect, rpcError } from '../mcp/harness.ts';
import type { Connection } from '../mcp/harness.ts';

interface Recorded {
  name: string;
  attributes: Attributes;
  status?: SpanStatus;
  exceptions: unknown[];
  ended: boolean;
}

/** A tracer that records what it is given; no OpenTelemetry SDK is installed in this project. */
function recordingTracer(): { tracer: Pick<Tracer, 'startSpan'>; spans: Recorded[] } {
  const spans: Recorded[] = [];
  const tracer = {
    startSpan(name: string, options?: SpanOptions): Span {
      const rec: Recorded = {
        name,
        attributes: { ...options?.attributes },
        exceptions: [],
        ended: false,
      };
      spans.push(rec);
      const span = {
        spanContext: () => ({ traceId: '0'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
        setAttribute: (k: string, v: unknown) => ((rec.attributes[k] = v as never), span),
        setAttributes: (a: Attributes) => (Object.assign(rec.attributes, a), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (s: SpanStatus) => ((rec.status = s), span),
        updateName: () => span,
        end: () => void (rec.ended = true),
        isRecording: () => true,
        recordException: (e: unknown) => void rec.exceptions.push(e),
      };
      return span as unknown as Span;
    },
  };
  return { tracer, spans };
}

let connection: Connection | undefined;
afterEach(async () => {
  await connection?.close();
  connection = undefined;
});

describe('tool spans', () => {
  it('a protected call opens span tool:<name> with the user and redacted params', async () => {
    const { tracer, spans } = recordingTracer();
    const server = new McpServer({ name: 'trace', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: allowAll,
      visible: () => true,
      tracer,
      breakers: new BreakerRegistry(),
    });
    guard.registerTool(
      'deploy_service',
      { inputSchema: { service: z.string(), token: z.string() } },
      () => ({ content: [] }),
    );
    connection = await connect(server, authInfo('dave', ['developer']));
    await connection.client.callTool({
      name: 'deploy_service',
      arguments: { service: 'api', token: 'abc' },
    });

    expect(spans).toHaveLength(1);
    expect(spans[0].name).toBe('tool:deploy_service');
    expect(spans[0].attributes).toEqual({
      'mcp.tool.name': 'deploy_service',
      'mcp.user.id': 'dave',
      'mcp.user.role': 'developer',
      'mcp.tool.params': JSON.stringify({ service: 'api', token: '[REDACTED]' }),
    });
    expect(spans[0].status).toBeUndefined();
    expect(spans[0].ended).toBe(true);
  });

  it('a failing call ends its span with status ERROR and the exception recorded', async () => {
    const { tracer, spans } = recordingTracer();
    const server = new McpServer({ name: 'trace-fail', version: '1.0.0' });
    const guard = protectMcpServer(server, {
      decide: allowAll,
      visible: () => true,
      tracer,
      breakers: new BreakerRegistry(),
    });
    guard.registerTool('run_tests', {}, () => {
      throw new Error('boom');
    });
    connection = await connect(server, authInfo('dave', ['developer']));
    await rpcError(connection.client.callTool({ name: 'run_tests', arguments: {} }));

    expect(spans[0].status?.code).toBe(SpanStatusCode.ERROR);
    expect(spans[0].exceptions).toHaveLength(1);
    expect(spans[0].ended).toBe(true);
  });

  it('a tool result with isError marks the span as failed', async () => {
    const { tracer, spans } = recordingTracer();
    await traceToolCall(
      { tool: 't', userId: 'u', role: 'r', params: {} },
      async () => ({ isError: true }),
      tracer,
    );
    expect(spans[0].status?.code).toBe(SpanStatusCode.ERROR);
  });
});
