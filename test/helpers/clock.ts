/**
 * A clock for the server's own rules (`currentDate` of `createServer`) that a test moves forward
 * instead of waiting: ticket expiry, elevation windows, claim windows, fresh sign-in, CIBA polling
 * intervals. It follows real time plus an offset, because oidc-provider keeps the real clock
 * (token `iat`/`exp`, artifact expiry); {@link freeze} stops it where exact instants matter.
 */
export class TestClock {
  #offsetMs = 0;
  #frozenAt: number | undefined;

  /** Pass as `currentDate`. */
  readonly currentDate = (): Date => new Date((this.#frozenAt ?? Date.now()) + this.#offsetMs);

  /** Moves the server's rules `seconds` into the future. */
  advance(seconds: number): void {
    this.#offsetMs += seconds * 1000;
  }

  /** Stops the clock at its current reading: it moves only by {@link advance} from now on. */
  freeze(): void {
    this.#frozenAt = Date.now();
  }

  /** Back to real time. */
  reset(): void {
    this.#offsetMs = 0;
    this.#frozenAt = undefined;
  }
}
