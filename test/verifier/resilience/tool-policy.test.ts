import { afterEach, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { protectMcpServer } from '../../../src/verifier/mcp/protect.ts';
import type { ProtectOptions } from '../../../src/verifier/mcp/types.ts';
import { BreakerRegistry } from '../../../src/verifier/resilience/breakers.ts';
import {
  DEPENDENCY_FAILED,
  EXECUTION_FAILED,
  RATE_LIMITED,
  TIMEOUT,
  ToolError,
} from '../../../src/verifier/resilience/errors.ts';
import { allowAll, authInfo, connect, rpcError, sleep } from '../mcp/harness.ts';
import type { Connection } from '../mcp/harness.ts';

const ok = (text = 'ok') => ({ content: [{ type: 'text' as const, text }] });
const networkError = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

let connection: Connection | undefined;
afterEach(async () => {
  await connection?.close();
  connection = undefined;
});

async function setup(options: Partial<ProtectOptions> = {}) {
  const server = new McpServer({ name: 'resilience-test', version: '1.0.0' });
  const guard = protectMcpServer(server, {
    decide: allowAll,
    visible: () => true,
    breakers: new BreakerRegistry(),
    rateLimit: false,
    defaults: { retry: { initialDelayMs: 5, maxDelayMs: 20 } },
    ...options,
  });
  return { server, guard };
}

async function open(server: McpServer): Promise<Connection> {
  connection = await connect(server, authInfo('alice', ['developer']));
  return connection;
}

describe('tool call resilience through a real MCP client and server', () => {
  it('a hanging tool is abandoned at its timeout with -32001 and its signal aborted', async () => {
    const { server, guard } = await setup();
    let aborted = false;
    guard.registerTool(
      'hang',
      { description: 'never returns' },
      (extra) => {
        extra.signal.addEventListener('abort', () => {
          aborted = true;
        });
        return new Promise(() => {});
      },
      { timeoutMs: 100 },
    );
    const { client } = await open(server);

    const started = Date.now();
    const error = await rpcError(client.callTool({ name: 'hang', arguments: {} }));
    expect(error.code).toBe(TIMEOUT);
    expect(error.data).toMatchObject({ retryable: false });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(aborted).toBe(true);
  });

  it('a read-only tool that fails twice with a network error is retried and succeeds on the third call', async () => {
    const { server, guard } = await setup();
    let calls = 0;
    guard.registerTool('list_services', { annotations: { readOnlyHint: true } }, () => {
      calls += 1;
      if (calls < 3) throw networkError();
      return ok('three services');
    });
    const { client } = await open(server);

    const result = await client.callTool({ name: 'list_services', arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'three services' }]);
    expect(calls).toBe(3);
  });

  it('an idempotent tool gives up after three attempts and reports the failure as retryable', async () => {
    const { server, guard } = await setup();
    let calls = 0;
    guard.registerTool('check_service_health', { annotations: { idempotentHint: true } }, () => {
      calls += 1;
      throw networkError();
    });
    const { client } = await open(server);

    const error = await rpcError(client.callTool({ name: 'check_service_health', arguments: {} }));
    expect(error.code).toBe(EXECUTION_FAILED);
    expect(error.data).toMatchObject({ retryable: true });
    expect(calls).toBe(3);
  });

  it('a non-idempotent tool that fails is called once and answers -32000', async () => {
    const { server, guard } = await setup();
    let calls = 0;
    guard.registerTool('deploy_service', { inputSchema: { service: z.string() } }, () => {
      calls += 1;
      throw networkError();
    });
    const { client } = await open(server);

    const error = await rpcError(
      client.callTool({ name: 'deploy_service', arguments: { service: 'api' } }),
    );
    expect(error.code).toBe(EXECUTION_FAILED);
    expect(error.data).toMatchObject({ retryable: false });
    expect(error.message).not.toContain('socket hang up');
    expect(calls).toBe(1);
  });

  it('a read-only tool failing with a non-retryable error is not retried', async () => {
    const { server, guard } = await setup();
    let calls = 0;
    guard.registerTool('get_service_metrics', { annotations: { readOnlyHint: true } }, () => {
      calls += 1;
      throw new ToolError(EXECUTION_FAILED, 'unknown service', { retryable: false });
    });
    const { client } = await open(server);

    const error = await rpcError(client.callTool({ name: 'get_service_metrics', arguments: {} }));
    expect(error.message).toContain('unknown service');
    expect(calls).toBe(1);
  });

  it('the breaker opens after five failures, answers -32004 without calling the tool, and lets one trial through after its reset time', async () => {
    const breakers = new BreakerRegistry({ halfOpenAfterMs: 200 });
    const { server, guard } = await setup({ breakers });
    let calls = 0;
    let healthy = false;
    guard.registerTool(
      'build_artifact',
      {},
      () => {
        calls += 1;
        if (!healthy) throw new Error('artifact store down');
        return ok('built');
      },
      { dependency: 'artifact-store' },
    );
    const { client } = await open(server);

    for (let i = 0; i < 5; i++) {
      expect(
        (await rpcError(client.callTool({ name: 'build_artifact', arguments: {} }))).code,
      ).toBe(EXECUTION_FAILED);
    }
    const open1 = await rpcError(client.callTool({ name: 'build_artifact', arguments: {} }));
    expect(open1.code).toBe(DEPENDENCY_FAILED);
    expect(open1.data).toMatchObject({ retryable: true });
    expect((open1.data as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((open1.data as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(200);
    expect(calls).toBe(5);

    // After the reset time one trial runs; it fails, so the breaker opens again at once.
    await sleep(250);
    expect((await rpcError(client.callTool({ name: 'build_artifact', arguments: {} }))).code).toBe(
      EXECUTION_FAILED,
    );
    expect(calls).toBe(6);
    expect((await rpcError(client.callTool({ name: 'build_artifact', arguments: {} }))).code).toBe(
      DEPENDENCY_FAILED,
    );
    expect(calls).toBe(6);

    // The next trial succeeds and closes the breaker.
    healthy = true;
    await sleep(250);
    expect((await client.callTool({ name: 'build_artifact', arguments: {} })).content).toEqual(
      ok('built').content,
    );
    expect((await client.callTool({ name: 'build_artifact', arguments: {} })).content).toEqual(
      ok('built').content,
    );
    expect(calls).toBe(8);
  });

  it('tools naming the same dependency share one breaker', async () => {
    const breakers = new BreakerRegistry({ consecutiveFailures: 2, halfOpenAfterMs: 60_000 });
    const { server, guard } = await setup({ breakers });
    let healthyCalls = 0;
    guard.registerTool(
      'run_tests',
      {},
      () => {
        throw new Error('ci down');
      },
      { dependency: 'ci' },
    );
    guard.registerTool(
      'rollback_deployment',
      {},
      () => {
        healthyCalls += 1;
        return ok();
      },
      { dependency: 'ci' },
    );
    const { client } = await open(server);

    await rpcError(client.callTool({ name: 'run_tests', arguments: {} }));
    await rpcError(client.callTool({ name: 'run_tests', arguments: {} }));
    expect(
      (await rpcError(client.callTool({ name: 'rollback_deployment', arguments: {} }))).code,
    ).toBe(DEPENDENCY_FAILED);
    expect(healthyCalls).toBe(0);
  });

  it('the rate limit answers -32003 with retryAfterMs once a principal has spent its budget on a tool', async () => {
    const { server, guard } = await setup({ rateLimit: { points: 2, durationSec: 4 } });
    guard.registerTool('list_services', {}, () => ok());
    guard.registerTool('run_tests', {}, () => ok());
    const connection = await open(server);
    const { client } = connection;

    await client.callTool({ name: 'list_services', arguments: {} });
    await client.callTool({ name: 'list_services', arguments: {} });
    const limited = await rpcError(client.callTool({ name: 'list_services', arguments: {} }));
    expect(limited.code).toBe(RATE_LIMITED);
    expect(limited.data).toMatchObject({ retryable: true });
    expect((limited.data as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);

    // Budgets are per tool and per principal.
    expect((await client.callTool({ name: 'run_tests', arguments: {} })).isError).toBeFalsy();
    connection.as(authInfo('bob', ['developer']));
    expect((await client.callTool({ name: 'list_services', arguments: {} })).isError).toBeFalsy();
  });
});
