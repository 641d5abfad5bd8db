import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/verifier/resilience/rate-limit.ts';
import { RespClient } from './resp-client.ts';

function clocked(options: ConstructorParameters<typeof RateLimiter>[0] = {}) {
  let now = 1_000_000;
  const limiter = new RateLimiter({ ...options, now: () => now });
  return { limiter, advance: (ms: number) => void (now += ms) };
}

const allowed = async (limiter: RateLimiter, key: string, times: number) => {
  const verdicts = [];
  for (let i = 0; i < times; i++) verdicts.push((await limiter.consume(key)).allowed);
  return verdicts;
};

describe('fixed-window rate limiter (rate-limiter-flexible)', () => {
  it('allows points calls in a window, then refuses with the wait until the window ends', async () => {
    const { limiter, advance } = clocked({ points: 3, durationSec: 2 });
    expect(await allowed(limiter, 'k', 3)).toEqual([true, true, true]);
    advance(500);
    expect(await limiter.consume('k')).toEqual({ allowed: false, retryAfterMs: 1_500 });
  });

  it('starts a new window once the old one ended', async () => {
    const { limiter, advance } = clocked({ points: 2, durationSec: 1 });
    await allowed(limiter, 'k', 3);
    advance(1_000);
    expect(await limiter.consume('k')).toEqual({ allowed: true, remaining: 1 });
  });

  it('keeps a budget per key', async () => {
    const { limiter } = clocked({ points: 1 });
    expect((await limiter.consume('alice\u0000deploy')).allowed).toBe(true);
    expect((await limiter.consume('alice\u0000deploy')).allowed).toBe(false);
    expect((await limiter.consume('bob\u0000deploy')).allowed).toBe(true);
    expect((await limiter.consume('alice\u0000list')).allowed).toBe(true);
  });

  it('defaults to 60 calls a minute', async () => {
    const { limiter } = clocked();
    expect((await allowed(limiter, 'k', 60)).every(Boolean)).toBe(true);
    expect(await limiter.consume('k')).toEqual({ allowed: false, retryAfterMs: 60_000 });
  });

  it('holds at most maxKeys windows in memory, however many keys are flooded in', async () => {
    const { limiter } = clocked({ store: { type: 'memory', maxKeys: 100 } });
    for (let i = 0; i < 1_000; i++) await limiter.consume(`principal-${i}`);
    expect(limiter.size).toBe(100);
  });

  it('drops windows once they ended, since a new window equals a forgotten one', async () => {
    const { limiter, advance } = clocked({ points: 5, durationSec: 1 });
    for (let i = 0; i < 50; i++) await allowed(limiter, `principal-${i}`, 5);
    advance(1_001);
    expect(limiter.size).toBe(0);
    expect(await limiter.consume('principal-1')).toEqual({ allowed: true, remaining: 4 });
    expect(limiter.size).toBe(1);
  });

  it('rejects nonsensical settings with a TypeError', () => {
    expect(() => new RateLimiter({ points: 0 })).toThrow(TypeError);
    expect(() => new RateLimiter({ durationSec: 0.5 })).toThrow(TypeError);
    expect(() => new RateLimiter({ store: { type: 'memory', maxKeys: 0 } })).toThrow(TypeError);
    expect(() => new RateLimiter({ store: { type: 'redis' } as never })).toThrow(TypeError);
  });

  it('keeps limiting in memory while the Redis store fails', async () => {
    const limiter = new RateLimiter({
      points: 2,
      store: { type: 'redis', client: RespClient.down() },
    });
    expect(await allowed(limiter, 'k', 3)).toEqual([true, true, false]);
    expect(limiter.size).toBe(1);
  });

  it('counts in Redis, not in memory, while Redis answers', async () => {
    const client = await RespClient.open();
    const keyPrefix = `mcp-elevate-test-${crypto.randomUUID()}`;
    try {
      const [a, b] = [0, 1].map(
        () => new RateLimiter({ points: 2, store: { type: 'redis', client, keyPrefix } }),
      );
      expect([...(await allowed(a, 'k', 1)), ...(await allowed(b, 'k', 2))]).toEqual([
        true,
        true,
        false,
      ]);
      expect(a.size + b.size).toBe(0);
    } finally {
      await client.deletePrefix(keyPrefix);
      client.close();
    }
  });
});
