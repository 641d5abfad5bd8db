import type { User, UserRepository } from '../accounts/users.ts';

/**
 * Users as one request sees them. A token or CIBA request needs the same user several times (its
 * account, its `roles` claim, its elevation principal); it is read from the database once per
 * request. Entries are keyed by the request's context object, so none outlives its request and no
 * request sees another's.
 */
export class RequestUsers {
  readonly #users: UserRepository;
  readonly #byRequest = new WeakMap<object, Map<string, Promise<User | undefined>>>();

  constructor(users: UserRepository) {
    this.#users = users;
  }

  /** The user `id` as first read during request `ctx` (read now without a request). */
  load(ctx: object | undefined, id: string): Promise<User | undefined> {
    if (!ctx) return this.#users.findById(id);
    let seen = this.#byRequest.get(ctx);
    if (!seen) this.#byRequest.set(ctx, (seen = new Map()));
    let user = seen.get(id);
    if (!user) {
      user = this.#users.findById(id);
      seen.set(id, user);
      // A failed read is not remembered: a later step of the request may try again.
      user.catch(() => seen.delete(id));
    }
    return user;
  }
}
