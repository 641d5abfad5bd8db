import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { LruRateLimiter } from './lru-limiter.ts';

/**
 * A connected Redis client that rate-limiter-flexible can drive: `ioredis` (`new Redis(url)`) or
 * node-redis 4+ (`createClient({ url })`, connected). The verifier imports no Redis package; the
 * application brings its own client and keeps it (closing it is the application's business).
 */
export interface RedisClientLike {
  eval(...args: never[]): unknown;
}

/**
 * Where rate-limit windows and seen DPoP proof ids are kept (see `createMcpProtection`'s
 * `rateLimitStore`):
 * - `{ type: 'memory', maxKeys? }` — in this process, at most `maxKeys` windows per limiter
 *   (default `10_000`; least recently used forgotten first, each dropped when its window ends);
 * - `{ type: 'redis', client, keyPrefix?, maxKeys? }` — in Redis, shared by every instance using
 *   the same server and `keyPrefix` (default `"mcp-elevate"`); updates are atomic (one Lua script
 *   per call, rate-limiter-flexible's `RateLimiterRedis`). While Redis fails, each instance falls
 *   back to its own memory windows (bounded by `maxKeys`), so calls keep being limited locally.
 */
export type RateLimitStore =
  | { type: 'memory'; maxKeys?: number }
  | { type: 'redis'; client: RedisClientLike; keyPrefix?: string; maxKeys?: number };

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Calls allowed per key (principal and tool) in one window. Default `60`. */
  points?: number;
  /** Window length in whole seconds (Redis counts seconds). Default `60`. */
  durationSec?: number;
  /** Where the windows live. Default `{ type: 'memory' }`. */
  store?: RateLimitStore;
  /** Distinguishes this limiter's keys from others in the same store. Default `"rl"`. */
  name?: string;
  /** Clock of the memory store, in milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Outcome of {@link RateLimiter.consume}. */
export type RateLimitVerdict =
  { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new TypeError(`${name} must be an integer of at least ${min}`);
  return value;
}

/**
 * A fixed-window rate limit per key on rate-limiter-flexible: `points` calls per `durationSec`
 * window, the window starting at a key's first call. The same rules hold in memory and in Redis.
 * Build one per protection and share it: budgets are per key, not per limiter object, only as long
 * as every caller goes through the same limiter (or the same Redis).
 */
export class RateLimiter {
  /** Calls per window. */
  readonly points: number;
  /** Window length, seconds. */
  readonly durationSec: number;
  readonly #limiter: RateLimiterAbstract;
  readonly #local: LruRateLimiter;

  /** @throws TypeError on settings that are not whole positive numbers or an unknown store. */
  constructor(options: RateLimiterOptions = {}) {
    this.points = whole('points', options.points ?? 60, 1);
    this.durationSec = whole('durationSec', options.durationSec ?? 60, 1);
    const store = options.store ?? { type: 'memory' };
    const name = options.name ?? 'rl';
    const maxKeys = whole('maxKeys', store.maxKeys ?? 10_000, 1);
    this.#local = new LruRateLimiter({
      points: this.points,
      duration: this.durationSec,
      keyPrefix: name,
      maxKeys,
      now: options.now,
    });
    if (store.type === 'memory') {
      this.#limiter = this.#local;
    } else if (store.type === 'redis' && typeof store.client?.eval === 'function') {
      this.#limiter = new RateLimiterRedis({
        storeClient: store.client,
        // node-redis has no `defineCommand`; ioredis does, and rate-limiter-flexible uses it.
        useRedisPackage:
          typeof (store.client as { defineCommand?: unknown }).defineCommand !== 'function',
        points: this.points,
        duration: this.durationSec,
        keyPrefix: `${store.keyPrefix ?? 'mcp-elevate'}:${name}`,
        insuranceLimiter: this.#local,
      });
    } else {
      throw new TypeError('store must be { type: "memory" } or { type: "redis", client }');
    }
  }

  /** Windows this process holds in memory (the Redis store's fallback included). */
  get size(): number {
    return this.#local.size;
  }

  /**
   * Counts one call of `key`, or says how long until its window ends.
   * Rejects only when the store fails and its memory fallback fails too.
   */
  async consume(key: string): Promise<RateLimitVerdict> {
    if (this.#limiter === this.#local) {
      // In memory: the same window arithmetic, without the library's promise round trips.
      const left = this.#local.take(key);
      return left >= 0
        ? { allowed: true, remaining: left }
        : { allowed: false, retryAfterMs: Math.max(1, -1 - left) };
    }
    try {
      const res = await this.#limiter.consume(key);
      return { allowed: true, remaining: res.remainingPoints };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      return { allowed: false, retryAfterMs: Math.max(1, error.msBeforeNext) };
    }
  }
}
