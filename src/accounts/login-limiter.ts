import type { Kysely } from 'kysely';
import rateLimiterFlexible from 'rate-limiter-flexible';
import type { Database } from '../db/schema.ts';
import { RateLimiterKysely } from './throttle-store.ts';
import { DEFAULTS } from '../config/defaults.ts';

const { RateLimiterRes } = rateLimiterFlexible;

/** Throttle settings; every default is the product's documented budget. */
export interface LoginThrottleOptions {
  /** Window in seconds. Default 900 (15 minutes). */
  windowSeconds?: number;
  /** Sign-in attempts per account (normalised email) per window. Default 5. */
  perAccount?: number;
  /** Sign-in attempts per client address per window. Default 30. */
  perAddress?: number;
}

/**
 * Sign-in throttle per account and per client address, stored in the database so every
 * instance draws on one budget. Rules enforced:
 * - an attempt is counted before the password is checked (an atomic upsert), so parallel
 *   guesses cannot all pass a check made before any of them was counted;
 * - over budget, the attempt is refused without checking the password: a locked account stays
 *   locked with the right password until the window ends;
 * - a successful sign-in clears its account's counter and gives its address its point back.
 * The account key is the normalised email ({@link normaliseEmail}); callers pass no other spelling.
 */
export class LoginThrottle {
  readonly #account: RateLimiterKysely;
  readonly #address: RateLimiterKysely;

  constructor(db: Kysely<Database>, opts: LoginThrottleOptions = {}) {
    const duration = opts.windowSeconds ?? DEFAULTS.signInWindowSeconds;
    this.#account = new RateLimiterKysely(db, {
      keyPrefix: 'account',
      points: opts.perAccount ?? DEFAULTS.signInAttemptsPerAccount,
      duration,
    });
    this.#address = new RateLimiterKysely(db, {
      keyPrefix: 'address',
      points: opts.perAddress ?? DEFAULTS.signInAttemptsPerAddress,
      duration,
    });
  }

  /**
   * Counts one attempt. Resolves with 0 when it may go ahead, else the seconds to wait.
   * @param email - the normalised email, or `''` when there is none (the address alone counts).
   * @throws the store's error when the database fails (never a silent pass).
   */
  async attempt(email: string, address: string): Promise<number> {
    const waits = await Promise.all([
      email ? wait(this.#account.consume(email)) : 0,
      wait(this.#address.consume(address)),
    ]);
    return Math.max(...waits);
  }

  /** Records a successful sign-in of `email` from `address`. */
  async succeeded(email: string, address: string): Promise<void> {
    await this.#account.delete(email);
    await this.#address.reward(address);
  }
}

/** 0 when the counter allowed the attempt, else the whole seconds until it resets. */
async function wait(consumed: Promise<unknown>): Promise<number> {
  try {
    await consumed;
    return 0;
  } catch (err) {
    // rate-limiter-flexible rejects with a RateLimiterRes when over budget, an Error on failure.
    if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
    throw err;
  }
}
