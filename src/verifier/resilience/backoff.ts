/**
 * Retry delays after consecutive failures, for loops that count their failures themselves (a
 * background poll, the audit client, the mail outbox whose count lives in the database). Tool
 * retries inside one call use cockatiel's `ExponentialBackoff` instead (see `withToolPolicy`).
 */

/** A range `[low, high]` of the random factor a delay is multiplied by; `[1, 1]` for none. */
export type Jitter = readonly [low: number, high: number];

/** Settings of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms; it doubles with each further failure. */
  baseMs: number;
  /** Longest delay, in ms; it holds after jitter too. */
  maxMs: number;
  /** Random factor applied to each delay, so that clients that failed together spread out. */
  jitter: Jitter;
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  random?: () => number;
}

/** `ms` multiplied by a random factor drawn uniformly from `jitter`, rounded to whole ms. */
export function jittered(ms: number, jitter: Jitter, random: () => number = Math.random): number {
  const [low, high] = jitter;
  return Math.round(ms * (low + random() * (high - low)));
}

/**
 * Delay before the next attempt after `failures` consecutive failed ones (1 for the first):
 * capped exponential (`baseMs · 2^(failures-1)`, at most `maxMs`), with jitter, capped at `maxMs`
 * again. The exponent is clamped, so a count that grows for days never overflows to `Infinity`.
 */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const delay = Math.min(options.baseMs * 2 ** exponent, options.maxMs);
  return Math.min(jittered(delay, options.jitter, options.random), options.maxMs);
}
