import { createRequire } from 'node:module';
import { LRUCache } from 'lru-cache';
import { RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';

/**
 * rate-limiter-flexible's store base class. Its package entry exports only the finished limiters,
 * so it is loaded from its file; its type comes with the package's declarations.
 */
const StoreAbstract = createRequire(import.meta.url)(
  'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js',
) as typeof RateLimiterStoreAbstract;

interface Window {
  consumed: number;
  /** Milliseconds on the limiter's clock. */
  endsAt: number;
}

/** Options of {@link LruRateLimiter}. */
export interface LruRateLimiterOptions {
  /** Points per window. */
  points: number;
  /** Window length in seconds. */
  duration: number;
  /** Prefix of every key. */
  keyPrefix: string;
  /** Most keys held; the least recently used is forgotten first. */
  maxKeys: number;
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
}

/**
 * rate-limiter-flexible's fixed window (the same rules as its Redis and memory stores) held in a
 * bounded `lru-cache`: at most `maxKeys` windows, each dropped when it ends. The library's own
 * memory store keeps every key for its whole window with one timer each, which an attacker who
 * mints keys (DPoP proof ids) could grow without limit. Forgetting a window under pressure lets
 * a call through that would have been refused: the bound is there so that never takes memory.
 */
export class LruRateLimiter extends StoreAbstract {
  readonly #windows: LRUCache<string, Window>;
  readonly #now: () => number;

  constructor(options: LruRateLimiterOptions) {
    const now = options.now ?? Date.now;
    const windows = new LRUCache<string, Window>({
      max: options.maxKeys,
      ttlResolution: 0,
      perf: { now },
    });
    super({
      points: options.points,
      duration: options.duration,
      keyPrefix: options.keyPrefix,
      storeClient: windows,
    });
    this.#windows = windows;
    this.#now = now;
  }

  /** Number of live windows held (ended ones are dropped first: O(n), for diagnostics and tests). */
  get size(): number {
    this.#windows.purgeStale();
    return this.#windows.size;
  }

  /**
   * `consume(key)` with one point, as the base class computes it for this store (no blocking,
   * no even spreading: neither is configured), without its promises and result objects.
   * @returns the points left in the window, or `-1 - msBeforeNext` when the call is refused.
   */
  take(key: string): number {
    const window = this.#upsertNow(this.getKey(key), 1, this.duration * 1000);
    if (window.consumed <= this.points) return Math.max(this.points - window.consumed, 0);
    return -1 - (Number.isFinite(window.endsAt) ? Math.max(0, window.endsAt - this.#now()) : -1);
  }

  #upsertNow(key: string, points: number, msDuration: number, forceExpire = false): Window {
    const now = this.#now();
    const current = this.#windows.get(key);
    const window: Window =
      forceExpire || current === undefined || current.endsAt <= now
        ? { consumed: points, endsAt: msDuration > 0 ? now + msDuration : Number.POSITIVE_INFINITY }
        : { consumed: current.consumed + points, endsAt: current.endsAt };
    const ttl = window.endsAt - now;
    this.#windows.set(key, window, Number.isFinite(ttl) ? { ttl } : {});
    return window;
  }

  // The four hooks rate-limiter-flexible's store base class calls (see RateLimiterStoreAbstract).

  _upsert(key: string, points: number, msDuration: number, forceExpire = false): Promise<Window> {
    return Promise.resolve(this.#upsertNow(key, points, msDuration, forceExpire));
  }

  _get(key: string): Promise<Window | null> {
    const window = this.#windows.get(key);
    return Promise.resolve(window === undefined || window.endsAt <= this.#now() ? null : window);
  }

  _delete(key: string): Promise<boolean> {
    return Promise.resolve(this.#windows.delete(key));
  }

  _getRateLimiterRes(_key: string, changedPoints: number, window: Window): RateLimiterRes {
    const msBeforeNext = Number.isFinite(window.endsAt)
      ? Math.max(0, window.endsAt - this.#now())
      : -1;
    const remaining = Math.max(this.points - window.consumed, 0);
    return new RateLimiterRes(
      remaining,
      msBeforeNext,
      window.consumed,
      window.consumed === changedPoints,
    );
  }
}
