import { ExpiringLru } from '../token/lru.ts';

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Bucket size: calls allowed in a burst. Default: `60`. */
  capacity?: number;
  /** Tokens added back per second. Default: `1` (with the default capacity: 60 calls a minute). */
  refillPerSecond?: number;
  /** Most keys tracked at once; the least recently used is forgotten first. Default: `10_000`. */
  maxKeys?: number;
  /** Monotonic clock in milliseconds. Default: `performance.now`. */
  now?: () => number;
}

/** Outcome of {@link RateLimiter.take}. */
export type RateLimitVerdict =
  | { allowed: true; remaining: number }
  | { allowed: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * An in-memory token bucket per key (the protected tools use `principal + tool`).
 *
 * Memory stays bounded: a bucket is stored only until it would have refilled completely, because
 * a full bucket and a forgotten one behave the same, and at most `maxKeys` buckets are kept. Only
 * when more than `maxKeys` callers are mid-burst at once does an eviction forget a partly drained
 * bucket, which errs on the side of letting a call through.
 */
export class RateLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #buckets: ExpiringLru<Bucket>;
  readonly #now: () => number;

  constructor(options: RateLimiterOptions = {}) {
    this.capacity = options.capacity ?? 60;
    this.refillPerSecond = options.refillPerSecond ?? 1;
    if (!(this.capacity >= 1)) throw new TypeError('capacity must be at least 1');
    if (!(this.refillPerSecond > 0)) throw new TypeError('refillPerSecond must be positive');
    this.#buckets = new ExpiringLru(options.maxKeys ?? 10_000);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` tokens (default 1) from `key`'s bucket, or says how long to wait for them. */
  take(key: string, cost = 1): RateLimitVerdict {
    const now = this.#now();
    const stored = this.#buckets.get(key, now);
    const tokens = stored === undefined
      ? this.capacity
      : Math.min(this.capacity, stored.tokens + ((now - stored.updatedAt) * this.refillPerSecond) / 1000);

    if (tokens < cost) {
      // Keep the refilled value so the next call does not recompute from an older point.
      this.#store(key, tokens, now);
      const retryAfterMs = Math.ceil(((cost - tokens) * 1000) / this.refillPerSecond);
      return { allowed: false, retryAfterMs: Math.max(1, retryAfterMs) };
    }
    this.#store(key, tokens - cost, now);
    return { allowed: true, remaining: Math.floor(tokens - cost) };
  }

  #store(key: string, tokens: number, now: number): void {
    const fullAt = now + ((this.capacity - tokens) * 1000) / this.refillPerSecond;
    this.#buckets.set(key, { tokens, updatedAt: now }, fullAt, now);
  }
}
