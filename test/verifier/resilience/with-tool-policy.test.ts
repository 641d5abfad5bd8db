import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BreakerRegistry } from '../../../src/verifier/resilience/breakers.ts';
import { isRetryableError } from '../../../src/verifier/resilience/classify.ts';
import { EXECUTION_FAILED, TIMEOUT, ToolError } from '../../../src/verifier/resilience/errors.ts';
import { withToolPolicy } from '../../../src/verifier/resilience/policy.ts';
import type { ToolPolicyOptions } from '../../../src/verifier/resilience/policy.ts';

const extra = () => ({ signal: new AbortController().signal });
const policy = (options: Partial<ToolPolicyOptions> = {}) =>
  withToolPolicy({
    tool: 't',
    breakers: new BreakerRegistry(),
    rateLimiter: false,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    ...options,
  });

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

describe('withToolPolicy on its own', () => {
  it('retries a timed-out attempt of a read-only tool, each attempt with its own timeout', async () => {
    let calls = 0;
    const run = policy({ annotations: { readOnlyHint: true }, timeoutMs: 30 })(async () => {
      calls += 1;
      if (calls < 3) await new Promise(() => {});
      return 'done';
    });
    expect(await run({}, extra())).toBe('done');
    expect(calls).toBe(3);
  });

  it('never retries a timeout of a tool that is not idempotent, and says the outcome is unknown', async () => {
    let calls = 0;
    const run = policy({ timeoutMs: 20 })(() => {
      calls += 1;
      return new Promise(() => {});
    });
    const error = await failure(run({}, extra()));
    expect(error.code).toBe(TIMEOUT);
    expect(error.data.suggestedAction).toMatch(/check its outcome/);
    expect(calls).toBe(1);
  });

  it('never retries a validation error, even for a read-only tool', async () => {
    let calls = 0;
    const run = policy({ annotations: { readOnlyHint: true } })(() => {
      calls += 1;
      z.object({ n: z.number() }).parse({ n: 'x' });
    });
    const error = await failure(run({}, extra()));
    expect(error.code).toBe(EXECUTION_FAILED);
    expect(error.data.retryable).toBe(false);
    expect(calls).toBe(1);
  });

  it('retries errors flagged retryable and honours maxAttempts', async () => {
    let calls = 0;
    const run = policy({
      annotations: { idempotentHint: true },
      retry: { maxAttempts: 5, initialDelayMs: 1 },
    })(() => {
      calls += 1;
      throw Object.assign(new Error('busy'), { retryable: true });
    });
    await failure(run({}, extra()));
    expect(calls).toBe(5);
  });

  it('does not trip the breaker on validation errors', async () => {
    const breakers = new BreakerRegistry({ consecutiveFailures: 2 });
    const run = policy({ breakers, dependency: 'db' })(() => {
      throw Object.assign(new Error('bad input'), { name: 'ValidationError' });
    });
    for (let i = 0; i < 5; i++)
      expect((await failure(run({}, extra()))).code).toBe(EXECUTION_FAILED);
  });

  it('a call cancelled by the client is reported as cancelled, not as a timeout', async () => {
    const controller = new AbortController();
    const run = policy({ timeoutMs: 5_000 })(() => new Promise(() => {}));
    const pending = run({}, { signal: controller.signal });
    controller.abort();
    const error = await failure(pending);
    expect(error.code).toBe(EXECUTION_FAILED);
    expect(error.message).toMatch(/cancelled/);
  });
});

describe('retryable errors', () => {
  it('recognises network errors, also as the cause of fetch failures', () => {
    expect(isRetryableError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(
      isRetryableError(
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }),
        }),
      ),
    ).toBe(true);
    expect(isRetryableError(new Error('boom'))).toBe(false);
    expect(
      isRetryableError(Object.assign(new Error('x'), { code: 'ECONNRESET', retryable: false })),
    ).toBe(false);
  });

  it('ToolError.toJsonRpcError gives code, message and data', () => {
    const error = new ToolError(TIMEOUT, 'slow', { retryable: true, retryAfterMs: 5 });
    expect(error.toJsonRpcError()).toEqual({
      code: -32001,
      message: 'slow',
      data: { retryable: true, retryAfterMs: 5 },
    });
  });
});
