import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import type { CircuitBreakerPolicy, CircuitState } from 'cockatiel';
import { isDependencyFailure } from './classify.ts';

/** Options of a {@link BreakerRegistry}; they apply to every breaker it creates. */
export interface BreakerRegistryOptions {
  /** Consecutive failures that open a breaker. Default: `5`. */
  consecutiveFailures?: number;
  /** Milliseconds an open breaker waits before letting one trial call through. Default: `30_000`. */
  halfOpenAfterMs?: number;
  /** Which errors count as failures of the dependency. Default: all but validation errors. */
  isFailure?: (error: Error) => boolean;
}

interface Entry {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

/**
 * One cockatiel circuit breaker per dependency name, created on first use. Tools that name the
 * same dependency share its breaker, so five failures of the database through any tools open it
 * for all of them.
 */
export class BreakerRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #failures: number;
  readonly #halfOpenAfterMs: number;
  readonly #isFailure: (error: Error) => boolean;

  constructor(options: BreakerRegistryOptions = {}) {
    this.#failures = options.consecutiveFailures ?? 5;
    this.#halfOpenAfterMs = options.halfOpenAfterMs ?? 30_000;
    this.#isFailure = options.isFailure ?? isDependencyFailure;
    if (!(this.#failures >= 1)) throw new TypeError('consecutiveFailures must be at least 1');
    if (!(this.#halfOpenAfterMs >= 0)) throw new TypeError('halfOpenAfterMs must not be negative');
  }

  /** The breaker of `dependency`. */
  get(dependency: string): CircuitBreakerPolicy {
    return this.#entry(dependency).policy;
  }

  /** Current state of `dependency`'s breaker, or undefined if it was never used. */
  state(dependency: string): CircuitState | undefined {
    return this.#entries.get(dependency)?.policy.state;
  }

  /**
   * Milliseconds until an open breaker lets a trial call through; at least 1 so that callers can
   * tell the client to wait. cockatiel does not expose this, so the registry tracks `onBreak`
   * (with `Date.now`, the clock cockatiel itself uses).
   */
  retryAfterMs(dependency: string): number {
    const entry = this.#entries.get(dependency);
    if (entry === undefined) return 1;
    return Math.max(1, entry.openedAt + this.#halfOpenAfterMs - Date.now());
  }

  #entry(dependency: string): Entry {
    let entry = this.#entries.get(dependency);
    if (entry === undefined) {
      const policy = circuitBreaker(handleWhen(this.#isFailure), {
        halfOpenAfter: this.#halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.#failures),
      });
      const created: Entry = { policy, openedAt: 0 };
      policy.onBreak(() => {
        created.openedAt = Date.now();
      });
      this.#entries.set(dependency, created);
      entry = created;
    }
    return entry;
  }
}
