import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/verifier/resilience/rate-limit.ts';

function clocked(options: ConstructorParameters<typeof RateLimiter>[0] = {}) {
  let now = 1_000;
  const limiter = new RateLimiter({ ...options, now: () => now });
  return { limiter, advance: (ms: number) => void (now += ms) };
}

describe('token bucket rate limiter', () => {
  it('allows a burst of capacity calls, then refuses with the wait until the next token', () => {
    const { limiter } = clocked({ capacity: 3, refillPerSecond: 2 });
    expect([1, 2, 3].map(() => limiter.take('k').allowed)).toEqual([true, true, true]);
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterMs: 500 });
  });

  it('refills at refillPerSecond and never beyond capacity', () => {
    const { limiter, advance } = clocked({ capacity: 2, refillPerSecond: 1 });
    limiter.take('k');
    limiter.take('k');
    advance(1_000);
    expect(limiter.take('k')).toEqual({ allowed: true, remaining: 0 });
    advance(60_000);
    expect(limiter.take('k')).toEqual({ allowed: true, remaining: 1 });
  });

  it('keeps a bucket per key', () => {
    const { limiter } = clocked({ capacity: 1 });
    expect(limiter.take('alice\u0000deploy').allowed).toBe(true);
    expect(limiter.take('alice\u0000deploy').allowed).toBe(false);
    expect(limiter.take('bob\u0000deploy').allowed).toBe(true);
    expect(limiter.take('alice\u0000list').allowed).toBe(true);
  });

  it('defaults to 60 calls a minute', () => {
    const { limiter } = clocked();
    for (let i = 0; i < 60; i++) expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterMs: 1_000 });
  });

  it('tracks at most maxKeys keys', () => {
    const { limiter } = clocked({ maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) limiter.take(`principal-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  it('forgets buckets once they have refilled, since a full bucket equals a new one', () => {
    const { limiter, advance } = clocked({ capacity: 5, refillPerSecond: 5 });
    for (let i = 0; i < 50; i++) limiter.take(`principal-${i}`);
    advance(1_000);
    limiter.take('trigger-sweep');
    expect(limiter.take('principal-1')).toEqual({ allowed: true, remaining: 4 });
  });

  it('rejects nonsensical settings', () => {
    expect(() => new RateLimiter({ capacity: 0 })).toThrow(TypeError);
    expect(() => new RateLimiter({ refillPerSecond: 0 })).toThrow(TypeError);
  });
});
