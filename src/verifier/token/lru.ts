/**
 * A bounded map whose entries also expire. A `Map` keeps insertion order, so re-inserting on read
 * makes the first key the least recently used one; that is all the LRU bookkeeping needed.
 */
export class ExpiringLru<V> {
  readonly #max: number;
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  #lastSweep = Number.NEGATIVE_INFINITY;

  /** @param max Largest number of entries; `0` keeps nothing. */
  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live value for `key` at time `now` (any unit, as long as it matches `set`), or undefined. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  has(key: string, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  /** Stores `value` until `expiresAt`, evicting expired entries first and then the least recently used. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    if (this.#max === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#evict(now);
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  #evict(now: number): void {
    // A full sweep is O(n); doing it at most once per clock tick keeps a flood of new keys cheap.
    if (now !== this.#lastSweep) {
      this.#lastSweep = now;
      for (const [key, entry] of this.#entries) {
        if (entry.expiresAt <= now) this.#entries.delete(key);
      }
    }
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
