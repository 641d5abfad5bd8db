/**
 * Failed-login throttle per account and per client address (sliding window of failures).
 * Kept in memory: with several instances each one throttles on its own, which bounds an attacker
 * to (instances × limit) guesses per window — documented in the README.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();
  readonly #windowMs: number;
  readonly #perAccount: number;
  readonly #perAddress: number;

  /** Defaults: 5 failures per account and 30 per address in 15 minutes. */
  constructor(opts: { windowMs?: number; perAccount?: number; perAddress?: number } = {}) {
    this.#windowMs = opts.windowMs ?? 15 * 60_000;
    this.#perAccount = opts.perAccount ?? 5;
    this.#perAddress = opts.perAddress ?? 30;
  }

  /** Seconds to wait before another attempt is allowed, or 0. */
  retryAfter(account: string, address: string): number {
    const now = Date.now();
    const wait = (key: string, limit: number) => {
      const hits = this.#recent(key, now);
      return hits.length >= limit ? Math.ceil((hits[0]! + this.#windowMs - now) / 1000) : 0;
    };
    return Math.max(wait(`a:${account.toLowerCase()}`, this.#perAccount), wait(`i:${address}`, this.#perAddress));
  }

  fail(account: string, address: string): void {
    const now = Date.now();
    for (const key of [`a:${account.toLowerCase()}`, `i:${address}`]) {
      const hits = this.#recent(key, now);
      hits.push(now);
      this.#failures.set(key, hits);
    }
    if (this.#failures.size > 100_000) this.#failures.clear();
  }

  succeed(account: string): void {
    this.#failures.delete(`a:${account.toLowerCase()}`);
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => now - t < this.#windowMs);
  }
}
