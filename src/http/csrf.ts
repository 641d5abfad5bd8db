import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens bound to a value the attacker cannot know (an interaction uid, a session id):
 * HMAC-SHA256 of it under the server's cookie key. Forms carry the token; posts must echo it.
 */
export class Csrf {
  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  token(bindTo: string): string {
    return createHmac('sha256', this.#key).update(`csrf:${bindTo}`).digest('base64url');
  }

  verify(bindTo: string, presented: unknown): boolean {
    if (typeof presented !== 'string' || presented.length > 128) return false;
    const expected = Buffer.from(this.token(bindTo));
    const got = Buffer.from(presented);
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}
