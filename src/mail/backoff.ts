import { DEFAULTS } from '../config/defaults.ts';

/** Retry schedule of the outbox worker. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 1 000. */
  baseMs?: number;
  /** Longest delay between two attempts, in ms. Default 300 000 (5 min). */
  maxMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  random?: () => number;
}

/**
 * Delay before the next attempt after `failures` failed ones (1 for the first failure):
 * exponential (`baseMs · 2^(failures-1)`), capped at `maxMs`, with ±25 % jitter so that messages
 * that failed together (an SMTP outage) do not all come back in the same instant.
 */
export function retryDelayMs(failures: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? DEFAULTS.mailRetryBaseMs;
  const max = opts.maxMs ?? DEFAULTS.mailRetryMaxMs;
  const random = opts.random ?? Math.random;
  // The exponent is clamped so that a message failing for days cannot overflow to Infinity.
  const exp = Math.min(base * 2 ** Math.min(Math.max(failures - 1, 0), 30), max);
  const jittered = exp * (0.75 + random() * 0.5);
  return Math.round(Math.min(jittered, max));
}
