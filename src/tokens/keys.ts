import { createLocalJWKSet } from 'jose';
import type { PrivateJwk } from '../keys/keystore.ts';
import { publicJwks } from '../keys/public.ts';

/** A key resolver for jose's `jwtVerify` and when it was loaded (ms since the epoch). */
export interface LoadedKeys {
  get: ReturnType<typeof createLocalJWKSet>;
  at: number;
}

/**
 * This server's published signing keys (current and retiring), loaded once and shared by
 * concurrent callers (single flight). A failed load is not kept, so the next call tries again.
 */
export class OwnKeys {
  readonly #load: () => Promise<PrivateJwk[]>;
  readonly #now: () => number;
  #keys?: Promise<LoadedKeys>;

  constructor(load: () => Promise<PrivateJwk[]>, now: () => number = Date.now) {
    this.#load = load;
    this.#now = now;
  }

  /** The loaded keys; with `reload`, a fresh load (another instance may have rotated them). */
  get(reload = false): Promise<LoadedKeys> {
    if (!this.#keys || reload) {
      const loading = this.#load().then((keys) => ({
        get: createLocalJWKSet(publicJwks(keys)),
        at: this.#now(),
      }));
      loading.catch(() => {
        if (this.#keys === loading) this.#keys = undefined;
      });
      this.#keys = loading;
    }
    return this.#keys;
  }
}
